"""changeRequestStatus: exactly the lifecycle table of API.md, who may make each move, and races."""

import asyncio

import pytest

from db.enums import RequestStatus, Role
from resolvers.requests import LIFECYCLE
from schema.requests import MUTATION_TRANSITIONS
from tests.factories import make_customer, make_user
from tests.requests.given import audit_records, gid, make_request

CHANGE = """
mutation ($input: ChangeRequestStatusInput!) {
  changeRequestStatus(input: $input) {
    request { status resolutionComment processedBy { id } }
    errors { code field }
  }
}"""
S = RequestStatus
ALLOWED = {
    (S.IN_PROGRESS, S.COMPLETED),
    (S.PENDING, S.REJECTED),
    (S.IN_PROGRESS, S.REJECTED),
    (S.IN_PROGRESS, S.PENDING),
}


def _input(request, status, comment="Because"):
    return {"input": {"requestId": gid("Request", request), "status": status.value, "resolutionComment": comment}}


def test_the_code_table_is_the_api_table():
    moves = {pair for pair, move in LIFECYCLE.items() if move.transition == MUTATION_TRANSITIONS["changeRequestStatus"]}
    assert moves == ALLOWED


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", [S.PENDING, S.COMPLETED, S.REJECTED])
async def test_every_move_as_an_admin(app, gql, source, target):
    # given
    admin = await make_user(app, Role.ADMIN)
    handler = admin.user if source == S.IN_PROGRESS else None
    request = await make_request(app, await make_customer(app), status=source, processed_by=handler)

    # when
    body = await gql(CHANGE, _input(request, target), token=admin.token)

    # then
    payload = body["data"]["changeRequestStatus"]
    if (source, target) in ALLOWED:
        assert payload["errors"] == []
        assert payload["request"]["status"] == target.value
    else:
        assert payload == {"request": None, "errors": [{"code": "INVALID_TRANSITION", "field": ["status"]}]}


async def test_in_progress_is_always_a_validation_error(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app))

    # when
    body = await gql(CHANGE, _input(request, S.IN_PROGRESS), token=admin.token)

    # then
    assert body["data"]["changeRequestStatus"]["errors"] == [{"code": "VALIDATION", "field": ["status"]}]


async def test_rejecting_needs_a_comment(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app))

    # when
    body = await gql(CHANGE, _input(request, S.REJECTED, comment="  "), token=admin.token)

    # then
    assert body["data"]["changeRequestStatus"]["errors"] == [{"code": "VALIDATION", "field": ["resolutionComment"]}]


async def test_an_invalid_transition_is_the_only_error_even_without_a_comment(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app), status=S.COMPLETED)

    # when
    body = await gql(CHANGE, _input(request, S.REJECTED, comment=None), token=admin.token)

    # then
    assert body["data"]["changeRequestStatus"]["errors"] == [{"code": "INVALID_TRANSITION", "field": ["status"]}]


async def test_the_assigned_operator_completes_and_it_is_audited(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    request = await make_request(app, await make_customer(app), status=S.IN_PROGRESS, processed_by=operator.user)

    # when
    body = await gql(CHANGE, _input(request, S.COMPLETED, "Keep yourself warm"), token=operator.token)

    # then
    assert body["data"]["changeRequestStatus"]["request"] == {
        "status": "COMPLETED",
        "resolutionComment": "Keep yourself warm",
        "processedBy": {"id": gid("Operator", operator.user)},
    }
    records = await audit_records(app)
    assert [r.action for r in records] == ["request.status_changed"]
    assert records[0].details["changes"]["status"] == {"from": "IN_PROGRESS", "to": "COMPLETED"}


async def test_another_operator_may_not_complete(app, gql):
    # given
    assigned = await make_user(app, Role.OPERATOR)
    other = await make_user(app, Role.OPERATOR)
    request = await make_request(app, await make_customer(app), status=S.IN_PROGRESS, processed_by=assigned.user)

    # when
    body = await gql(CHANGE, _input(request, S.COMPLETED), token=other.token)

    # then
    assert body["data"]["changeRequestStatus"]["errors"] == [{"code": "FORBIDDEN", "field": ["requestId"]}]


async def test_any_operator_may_reject_a_pending_request(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    request = await make_request(app, await make_customer(app))

    # when
    body = await gql(CHANGE, _input(request, S.REJECTED, "Not our product"), token=operator.token)

    # then
    assert body["data"]["changeRequestStatus"]["request"]["status"] == "REJECTED"


async def test_back_to_pending_unassigns(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    request = await make_request(app, await make_customer(app), status=S.IN_PROGRESS, processed_by=operator.user)

    # when
    body = await gql(CHANGE, _input(request, S.PENDING, None), token=operator.token)

    # then
    assert body["data"]["changeRequestStatus"]["request"] == {
        "status": "PENDING",
        "resolutionComment": None,
        "processedBy": None,
    }


@pytest.mark.parametrize("role", [Role.SALES, Role.CUSTOMER])
async def test_sales_and_customers_are_forbidden(app, gql, role):
    # given
    user = await make_user(app, role)
    request = await make_request(app, await make_customer(app))

    # when
    body = await gql(CHANGE, _input(request, S.REJECTED), token=user.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_archived_request_cannot_change(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app), archived=True)

    # when
    body = await gql(CHANGE, _input(request, S.REJECTED), token=admin.token)

    # then
    assert body["data"]["changeRequestStatus"]["errors"][0]["code"] == "INVALID_TRANSITION"


@pytest.mark.parametrize("targets", [(S.COMPLETED, S.REJECTED), (S.COMPLETED, S.COMPLETED), (S.PENDING, S.COMPLETED)])
async def test_two_racing_transitions_leave_exactly_one_winner(app, gql, targets):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app), status=S.IN_PROGRESS, processed_by=admin.user)

    # when
    bodies = await asyncio.gather(*(gql(CHANGE, _input(request, t), token=admin.token) for t in targets))

    # then
    payloads = [b["data"]["changeRequestStatus"] for b in bodies]
    winners = [p for p in payloads if p["request"] is not None]
    losers = [p for p in payloads if p["request"] is None]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0]["errors"][0]["code"] in {"INVALID_TRANSITION", "CONFLICT"}
    async with app.state.sessionmaker() as session:
        from db import models

        stored = await session.get(models.SupportRequest, request.id)
    assert stored.status == winners[0]["request"]["status"]
    assert stored.version == 2
    assert [r.action for r in await audit_records(app)] == ["request.status_changed"]
