#!/usr/bin/env python3
"""The support flow end to end through the API: sign in, create a customer, an operator and a request, assign the
request (PENDING → IN_PROGRESS), complete it, and list the customer's requests.

    CG_PASSWORD=demo-password-1 python examples/seed_flow.py --email admin@demo.local \\
        --url http://127.0.0.1:8000/graphql

Signs in as an ADMIN (createOperator is ADMIN only). Prints each step; exits 1 at the first step that fails."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graphql_client import Client, GraphQLError  # noqa: E402

ERRORS = "errors { code message field }"
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id firstName lastName email }} {ERRORS} }} }}"""
CREATE_OPERATOR = f"""mutation($input: CreateOperatorInput!) {{
  createOperator(input: $input) {{ operator {{ id firstName lastName email role }} {ERRORS} }} }}"""
CREATE_REQUEST = f"""mutation($input: CreateRequestInput!) {{
  createRequest(input: $input) {{ request {{ id status body }} {ERRORS} }} }}"""
ASSIGN_REQUEST = f"""mutation($input: AssignRequestInput!) {{
  assignRequest(input: $input) {{ request {{ id status processedBy {{ email }} }} {ERRORS} }} }}"""
CHANGE_STATUS = f"""mutation($input: ChangeRequestStatusInput!) {{
  changeRequestStatus(input: $input) {{ request {{ id status resolutionComment }} {ERRORS} }} }}"""
CUSTOMER_REQUESTS = """query($id: ID!) {
  customer(id: $id) { firstName lastName openRequestCount
    requests(first: 20) { totalCount nodes { id status body resolutionComment processedBy { email } } } } }"""


class StepFailed(Exception):
    pass


def step(client: Client, title: str, query: str, variables: dict[str, Any], payload: str, thing: str) -> Any:
    data = client.execute(query, variables)
    result = data[payload]
    if result["errors"]:
        raise StepFailed(f"{title}: " + "; ".join(f"{e['code']}: {e['message']}" for e in result["errors"]))
    return result[thing]


def run(client: Client, out: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    customer = step(client, "create customer", CREATE_CUSTOMER,
                    {"input": {"firstName": "Ada", "lastName": "Lovelace", "email": f"ada.{tag}@example.com"}},
                    "createCustomer", "customer")  # fmt: skip
    print(f"1. customer  {customer['firstName']} {customer['lastName']} <{customer['email']}>", file=out)
    operator = step(client, "create operator", CREATE_OPERATOR,
                    {"input": {"firstName": "Oscar", "lastName": "Operator", "email": f"oscar.{tag}@example.com",
                               "role": "OPERATOR"}},
                    "createOperator", "operator")  # fmt: skip
    print(f"2. operator  {operator['firstName']} {operator['lastName']} ({operator['role']})", file=out)
    request = step(client, "create request", CREATE_REQUEST,
                   {"input": {"customerId": customer["id"], "body": "My last invoice was charged twice."}},
                   "createRequest", "request")  # fmt: skip
    print(f"3. request   {request['status']}: {request['body']}", file=out)
    request = step(client, "assign request", ASSIGN_REQUEST,
                   {"input": {"requestId": request["id"], "operatorId": operator["id"]}},
                   "assignRequest", "request")  # fmt: skip
    print(f"4. assigned  {request['status']} to {request['processedBy']['email']}", file=out)
    request = step(client, "complete request", CHANGE_STATUS,
                   {"input": {"requestId": request["id"], "status": "COMPLETED",
                              "resolutionComment": "Refunded the second charge."}},
                   "changeRequestStatus", "request")  # fmt: skip
    print(f"5. completed {request['status']}: {request['resolutionComment']}", file=out)
    listed = client.execute(CUSTOMER_REQUESTS, {"id": customer["id"]})["customer"]
    print(f"6. {listed['firstName']} {listed['lastName']} has {listed['requests']['totalCount']} request(s), "
          f"{listed['openRequestCount']} open:", file=out)  # fmt: skip
    for node in listed["requests"]["nodes"]:
        handler = node["processedBy"]["email"] if node["processedBy"] else "nobody"
        print(f"   - {node['status']:<11} {node['body']} (handled by {handler})", file=out)
    return {"customer": customer, "operator": operator, "request": request, "listed": listed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("CG_URL", "http://127.0.0.1:8000/graphql"))
    parser.add_argument("--email", default=os.environ.get("CG_EMAIL", "admin@demo.local"))
    parser.add_argument("--password-env", default="CG_PASSWORD", help="environment variable holding the password")
    args = parser.parse_args(argv)
    password = os.environ.get(args.password_env)
    if not password:
        print(f"seed_flow: put the password of {args.email} in ${args.password_env}", file=sys.stderr)
        return 2
    client = Client(args.url)
    try:
        user = client.login(args.email, password)
        print(f"Signed in as {user['email']} ({user['role']})")
        run(client, sys.stdout)
    except (GraphQLError, StepFailed) as error:
        print(f"seed_flow: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
