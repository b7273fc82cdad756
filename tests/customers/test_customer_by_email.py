"""customerByEmail: case-insensitive, live customers only, visibility applied."""

from db import models
from db.enums import Role
from tests.factories import make_customer, make_user

BY_EMAIL = "query ($email: String!) { customerByEmail(email: $email) { lastName } }"


async def test_found_case_insensitively(app, gql):
    # given
    sales = await make_user(app, Role.SALES)
    await make_customer(app, last_name="Stark", email="Ed@Winterfell.example")

    # when
    body = await gql(BY_EMAIL, {"email": " ed@WINTERFELL.example "}, token=sales.token)

    # then
    assert body["data"]["customerByEmail"] == {"lastName": "Stark"}


async def test_erased_and_unknown_addresses_give_null(app, gql):
    # given
    sales = await make_user(app, Role.SALES)
    await make_customer(app, email="gone@example.com", erased_at=models.utcnow())

    # when
    erased = await gql(BY_EMAIL, {"email": "gone@example.com"}, token=sales.token)
    unknown = await gql(BY_EMAIL, {"email": "nobody@example.com"}, token=sales.token)

    # then
    assert erased["data"]["customerByEmail"] is None
    assert unknown["data"]["customerByEmail"] is None


async def test_a_customer_finds_only_itself(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    await make_customer(app, email="other@example.com")

    # when
    other = await gql(BY_EMAIL, {"email": "other@example.com"}, token=me.token)

    # then
    assert other["data"]["customerByEmail"] is None
