"""Customer.contracts and Contract: visible to staff and to the owning customer; signed download URLs."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from db import models
from db.enums import Role
from resolvers.contracts import sign_download_token, verify_download_token
from tests.chat.given import fetch, gid, make_contract
from tests.factories import make_customer, make_user

CONTRACTS = """
query Contracts($id: ID!, $first: Int, $after: String) {
  customer(id: $id) {
    contracts(first: $first, after: $after) {
      totalCount
      nodes { id title filename contentType size sha256 createdAt downloadUrl customer { id } uploadedBy { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

NODE = "query N($id: ID!) { node(id: $id) { __typename ... on Contract { filename downloadUrl } } }"

PAGE_OF_CUSTOMERS = """
{ customers(first: 50) {
    nodes { contracts(first: 2) { totalCount nodes { filename downloadUrl uploadedBy { id } } } } } }
"""


def token_of(url: str) -> str:
    path = urlparse(url).path
    assert path.startswith("/files/")
    return path.removeprefix("/files/")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_list_contracts_newest_first(app, gql, role):
    # given
    customer = await make_customer(app)
    uploader = await make_user(app, Role.SALES)
    older = await make_contract(app, customer, title="NDA", uploaded_by_id=uploader.id)
    newer = await make_contract(app, customer, title=None)
    await make_contract(app, await make_customer(app))
    staff = await make_user(app, role)
    # when
    body = await gql(CONTRACTS, {"id": gid("Customer", customer)}, token=staff.token)
    # then
    contracts = body["data"]["customer"]["contracts"]
    assert contracts["totalCount"] == 2
    assert [n["id"] for n in contracts["nodes"]] == [gid("Contract", newer), gid("Contract", older)]
    nda = contracts["nodes"][1]
    assert nda["title"] == "NDA"
    assert nda["filename"] == older.filename
    assert nda["contentType"] == "application/pdf"
    assert nda["size"] == older.size and nda["sha256"] == older.sha256
    assert nda["customer"] == {"id": gid("Customer", customer)}
    assert nda["uploadedBy"] == {"id": gid("User", uploader.user)}
    assert contracts["nodes"][0]["title"] is None and contracts["nodes"][0]["uploadedBy"] is None


async def test_contracts_page_with_cursors(app, gql):
    customer = await make_customer(app)
    made = [await make_contract(app, customer) for _ in range(3)]
    admin = await make_user(app, Role.ADMIN)
    page1 = (await gql(CONTRACTS, {"id": gid("Customer", customer), "first": 2}, token=admin.token))["data"]
    cursor = page1["customer"]["contracts"]["pageInfo"]["endCursor"]
    page2 = (await gql(CONTRACTS, {"id": gid("Customer", customer), "first": 2, "after": cursor}, token=admin.token))[
        "data"
    ]
    assert page1["customer"]["contracts"]["pageInfo"]["hasNextPage"]
    assert [n["id"] for n in page2["customer"]["contracts"]["nodes"]] == [gid("Contract", made[0])]


async def test_a_customer_sees_its_own_contracts_only(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    mine = await make_contract(app, await fetch(app, models.Customer, me.user.customer_id))
    theirs = await make_contract(app, await make_customer(app))
    # when
    own_list = await gql(
        CONTRACTS, {"id": gid("Customer", await fetch(app, models.Customer, me.user.customer_id))}, token=me.token
    )
    own_node = await gql(NODE, {"id": gid("Contract", mine)}, token=me.token)
    foreign_node = await gql(NODE, {"id": gid("Contract", theirs)}, token=me.token)
    # then
    assert [n["id"] for n in own_list["data"]["customer"]["contracts"]["nodes"]] == [gid("Contract", mine)]
    assert own_node["data"]["node"]["filename"] == mine.filename
    assert foreign_node == {"data": {"node": None}}


async def test_download_url_is_signed_and_expires(app, gql):
    # given
    customer = await make_customer(app)
    contract = await make_contract(app, customer)
    admin = await make_user(app, Role.ADMIN)
    settings = app.state.settings
    # when
    body = await gql(NODE, {"id": gid("Contract", contract)}, token=admin.token)
    url = body["data"]["node"]["downloadUrl"]
    # then
    assert url.startswith(settings.app.public_url.rstrip("/") + "/files/")
    token = token_of(url)
    assert verify_download_token(settings, token) == contract.id
    expires_at = int(token.split(".")[1])
    assert abs(expires_at - (time.time() + settings.storage.url_ttl_seconds)) < 60
    assert verify_download_token(settings, token, now=expires_at + 1) is None  # expired
    contract_id, expiry, signature = token.split(".")
    assert verify_download_token(settings, f"{int(contract_id) + 1}.{expiry}.{signature}") is None  # tampered id
    assert verify_download_token(settings, f"{contract_id}.{int(expiry) + 999}.{signature}") is None  # longer life
    assert verify_download_token(settings, "garbage") is None


def test_tokens_from_another_secret_are_refused():
    from tests.conftest import test_settings

    ours, theirs = test_settings(), test_settings()
    theirs.auth.jwt_secret = "another-secret-" + "y" * 32
    token = sign_download_token(theirs, contract_id=7, expires_at=int(time.time()) + 60)
    assert verify_download_token(theirs, token) == 7
    assert verify_download_token(ours, token) is None


async def test_nested_page_size_over_50_is_bad_user_input(app, gql):
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(CONTRACTS, {"id": gid("Customer", customer), "first": 51}, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_contracts_of_a_page_of_customers_cost_the_same_for_5_or_20(app, gql, sql_counter):
    admin = await make_user(app, Role.ADMIN)
    uploader = await make_user(app, Role.SALES)

    async def customers_with_contracts(n: int) -> None:
        for _ in range(n):
            customer = await make_customer(app)
            for _ in range(3):
                await make_contract(app, customer, uploaded_by_id=uploader.id)

    await customers_with_contracts(5)
    sql_counter.statements.clear()
    small = await gql(PAGE_OF_CUSTOMERS, token=admin.token)
    small_count = sql_counter.count
    await customers_with_contracts(15)
    sql_counter.statements.clear()
    large = await gql(PAGE_OF_CUSTOMERS, token=admin.token)
    assert "errors" not in small and "errors" not in large
    assert len(large["data"]["customers"]["nodes"]) == 20
    assert sql_counter.count == small_count
    assert len([s for s in sql_counter.statements if "contracts" in s]) == 2  # the page and the batched count
