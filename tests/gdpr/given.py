"""A customer with a bit of everything, built through the GraphQL API as staff and the customer would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from db.enums import Role
from tests.contracts.given import pdf, upload
from tests.factories import Account, make_user

FIRST, LAST = "Philippa", "Wrenfield"
EMAIL, OLD_EMAIL = "philippa.wrenfield@example.com", "p.wrenfield@oldmail.example"
PHONE, OLD_PHONE = "+442079460321", "+442079460999"
COMPANY = "Wrenfield Estates"
REQUEST_BODY = "Please change the billing address to 12 Orchard Lane, Philippa"
MESSAGE = "Hi, this is Philippa Wrenfield about my invoice"
NOTE = "Philippa prefers calls after 5pm on +442079460321"
CHAT_TITLE = "Wrenfield invoice"
CONTRACT_TITLE = "Wrenfield lease"
FILENAME = "wrenfield-lease.pdf"
PERSONAL = [
    FIRST,
    LAST,
    EMAIL,
    OLD_EMAIL,
    PHONE,
    OLD_PHONE,
    COMPANY,
    REQUEST_BODY,
    MESSAGE,
    NOTE,
    CHAT_TITLE,
    CONTRACT_TITLE,
    FILENAME,
]

CREATE = (
    """mutation C($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""
)
UPDATE = (
    """mutation U($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { id } errors { code } } }"""
)
CREATE_REQUEST = """
mutation R($input: CreateRequestInput!) { createRequest(input: $input) { request { id } errors { code } } }"""
START_CHAT = """
mutation S($input: StartChatSessionInput!) { startChatSession(input: $input) { chatSession { id } errors { code } } }"""
POST = """
mutation P($input: PostChatMessageInput!) { postChatMessage(input: $input) { chatMessage { id } errors { code } } }"""
ADD_NOTE = (
    """mutation N($input: AddCustomerNoteInput!) { addCustomerNote(input: $input) { note { id } errors { code } } }"""
)
ERASE = """
mutation E($id: ID!) {
  eraseCustomer(id: $id) {
    customer { id firstName lastName email phone company erasedAt version }
    errors { code message field retryAfter }
  }
}
"""
EXPORT = "query X($id: ID!) { exportCustomerData(customerId: $id) }"


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body["data"]


@dataclass
class Story:
    customer_id: str
    request_id: str
    session_id: str
    contract: dict[str, Any]
    sales: Account
    admin: Account
    operator: Account


async def customer_with_everything(app: Any, client: httpx.AsyncClient) -> Story:
    sales, admin, operator = [await make_user(app, r) for r in (Role.SALES, Role.ADMIN, Role.OPERATOR)]
    created = await call(
        client,
        CREATE,
        {"input": {"firstName": FIRST, "lastName": LAST, "email": OLD_EMAIL, "phone": OLD_PHONE, "company": COMPANY}},
        sales.token,
    )
    customer_id = created["createCustomer"]["customer"]["id"]
    await call(client, UPDATE, {"input": {"id": customer_id, "email": EMAIL, "phone": PHONE}}, sales.token)
    request = await call(
        client, CREATE_REQUEST, {"input": {"customerId": customer_id, "body": REQUEST_BODY}}, sales.token
    )
    chat = await call(client, START_CHAT, {"input": {"customerId": customer_id, "title": CHAT_TITLE}}, operator.token)
    session_id = chat["startChatSession"]["chatSession"]["id"]
    await call(client, POST, {"input": {"sessionId": session_id, "body": MESSAGE}}, operator.token)
    await call(client, ADD_NOTE, {"input": {"customerId": customer_id, "body": NOTE}}, sales.token)
    uploaded = await upload(
        client, token=sales.token, customer_id=customer_id, content=pdf(), filename=FILENAME, title=CONTRACT_TITLE
    )
    contract = uploaded.json()["data"]["uploadContract"]["contract"]
    assert contract is not None
    return Story(customer_id, request["createRequest"]["request"]["id"], session_id, contract, sales, admin, operator)
