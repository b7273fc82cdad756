"""The seed story end to end, through the API only: customer → operator → request → assign → complete → archive."""

from db.enums import Role
from tests.factories import make_user

CREATE_CUSTOMER = """
mutation ($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id firstName lastName phone } errors { code field } }
}"""
CREATE_OPERATOR = """
mutation ($input: CreateOperatorInput!) {
  createOperator(input: $input) { operator { id firstName lastName role } errors { code field } }
}"""
CREATE_REQUEST = """
mutation ($input: CreateRequestInput!) {
  createRequest(input: $input) { request { id body status processedBy { id } createdBy { id } } errors { code } }
}"""
ASSIGN = """
mutation ($input: AssignRequestInput!) {
  assignRequest(input: $input) { request { status processedBy { firstName lastName } } errors { code } }
}"""
CHANGE_STATUS = """
mutation ($input: ChangeRequestStatusInput!) {
  changeRequestStatus(input: $input) { request { status resolutionComment } errors { code } }
}"""
ARCHIVE = """
mutation ($id: ID!) { archiveRequest(id: $id) { request { id archivedAt } errors { code } } }"""
CUSTOMER_REQUESTS = """
query ($id: ID!, $includeArchived: Boolean) {
  customer(id: $id) {
    openRequestCount
    requests(includeArchived: $includeArchived) {
      totalCount nodes { body status resolutionComment processedBy { firstName } }
    }
  }
}"""


async def test_the_seed_story(app, gql):
    # given an admin
    admin = await make_user(app, Role.ADMIN)

    # when the admin creates the customer and the operator
    body = await gql(
        CREATE_CUSTOMER,
        {"input": {"firstName": "Ed", "lastName": "Stark", "phone": "+442083661171"}},
        token=admin.token,
    )
    customer = body["data"]["createCustomer"]["customer"]
    assert customer["phone"] == "+442083661171"
    body = await gql(
        CREATE_OPERATOR,
        {"input": {"firstName": "Jennie", "lastName": "Lanister", "email": "jennie@example.com"}},
        token=admin.token,
    )
    operator = body["data"]["createOperator"]["operator"]
    assert operator["role"] == "OPERATOR"

    # and files a request for the customer
    body = await gql(
        CREATE_REQUEST, {"input": {"customerId": customer["id"], "body": "Winter is coming"}}, token=admin.token
    )
    request = body["data"]["createRequest"]["request"]
    assert request["status"] == "PENDING"
    assert request["processedBy"] is None
    assert request["createdBy"] == {"id": customer["id"]}

    # then assigning puts it in progress with the operator
    body = await gql(ASSIGN, {"input": {"requestId": request["id"], "operatorId": operator["id"]}}, token=admin.token)
    assert body["data"]["assignRequest"] == {
        "request": {"status": "IN_PROGRESS", "processedBy": {"firstName": "Jennie", "lastName": "Lanister"}},
        "errors": [],
    }

    # and completing it keeps the resolution comment
    body = await gql(
        CHANGE_STATUS,
        {"input": {"requestId": request["id"], "status": "COMPLETED", "resolutionComment": "Keep yourself warm"}},
        token=admin.token,
    )
    assert body["data"]["changeRequestStatus"] == {
        "request": {"status": "COMPLETED", "resolutionComment": "Keep yourself warm"},
        "errors": [],
    }

    # and it is listed under the customer
    body = await gql(CUSTOMER_REQUESTS, {"id": customer["id"]}, token=admin.token)
    assert body["data"]["customer"] == {
        "openRequestCount": 0,
        "requests": {
            "totalCount": 1,
            "nodes": [
                {
                    "body": "Winter is coming",
                    "status": "COMPLETED",
                    "resolutionComment": "Keep yourself warm",
                    "processedBy": {"firstName": "Jennie"},
                }
            ],
        },
    }

    # when it is archived
    body = await gql(ARCHIVE, {"id": request["id"]}, token=admin.token)
    assert body["data"]["archiveRequest"]["request"]["archivedAt"] is not None

    # then it is hidden unless includeArchived
    body = await gql(CUSTOMER_REQUESTS, {"id": customer["id"]}, token=admin.token)
    assert body["data"]["customer"]["requests"] == {"totalCount": 0, "nodes": []}
    body = await gql(CUSTOMER_REQUESTS, {"id": customer["id"], "includeArchived": True}, token=admin.token)
    assert body["data"]["customer"]["requests"]["totalCount"] == 1
    assert body["data"]["customer"]["requests"]["nodes"][0]["body"] == "Winter is coming"
