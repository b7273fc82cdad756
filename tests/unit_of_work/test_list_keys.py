"""Nested lists are cached under typed keys (db/loaders.py: a frozen dataclass per list shape), and a write drops
exactly the cached lists that show the children it changed: two lists with different filters never share a cache
entry, a write's own request sees it, and other parents' lists stay cached (counted in statements)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlmodel import col

from db import models
from db.enums import ChatSessionStatus, RequestStatus, Role
from db.loaders import Children, ListKey, Loaders
from db.paging import PageRequest
from resolvers.chat import MessagesOfSessionKey, SessionsOfCustomerKey
from resolvers.contracts import ContractsOfCustomerKey
from resolvers.customers import OpenRequestsOfCustomerKey
from resolvers.notes import NotesOfCustomerKey
from resolvers.requests import OpenRequestsOfOperatorKey, RequestsOfCustomerKey, RequestsOfOperatorKey
from resolvers.unit_of_work import system_unit_of_work
from resolvers.viewer import Viewer
from tests.chat.given import make_session
from tests.factories import make_customer, make_user
from tests.requests.given import gid, make_request

APP_KEYS = (
    RequestsOfCustomerKey,
    RequestsOfOperatorKey,
    OpenRequestsOfOperatorKey,
    OpenRequestsOfCustomerKey,
    SessionsOfCustomerKey,
    MessagesOfSessionKey,
    NotesOfCustomerKey,
    ContractsOfCustomerKey,
)

FILTERED_LISTS = """
query ($id: ID!) { customer(id: $id) {
    all: requests(first: 10) { totalCount nodes { body } }
    pending: requests(status: PENDING, first: 10) { totalCount nodes { body } }
    completed: requests(status: COMPLETED, first: 10) { totalCount nodes { body } }
    archivedToo: requests(includeArchived: true, first: 10) { totalCount nodes { body } }
    open: chatSessions(status: OPEN, first: 10) { totalCount nodes { title } }
    closed: chatSessions(status: CLOSED, first: 10) { totalCount nodes { title } } } }
"""

MOVE_BETWEEN_OPERATORS = """
mutation ($kept: ID!, $moved: ID!, $first: ID!, $second: ID!) {
  keep: assignRequest(input: {requestId: $kept, operatorId: $first}) {
    request { processedBy { openRequestCount assignedRequests(first: 10) { totalCount nodes { body } } } }
  }
  move: assignRequest(input: {requestId: $moved, operatorId: $second}) {
    request { customer { requests(first: 10) { nodes { body processedBy {
      openRequestCount assignedRequests(first: 10) { totalCount nodes { body } } } } } } }
  }
}
"""


def work(app: Any, loaders: Loaders) -> Any:
    return system_unit_of_work(app.state.sessionmaker, label="system (test)", loaders=loaders)


def requests_of(customer: models.Customer | int, status: RequestStatus | None = None) -> RequestsOfCustomerKey:
    customer_id = customer if isinstance(customer, int) else customer.id
    assert customer_id is not None
    return RequestsOfCustomerKey(customer_id=customer_id, status=status, include_archived=False)


# --- the keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_class", APP_KEYS, ids=lambda c: c.__name__)
def test_every_list_key_is_a_frozen_dataclass_holding_its_parent(key_class: type[ListKey[Any]]):
    fields = {f.name: f for f in dataclasses.fields(key_class)}
    assert key_class.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert key_class.parent().key in fields, "the parent id is a field named like the parent column"
    assert all(f.default is dataclasses.MISSING for f in fields.values()), "no filter may be left out by default"


def test_a_key_without_one_of_its_filters_cannot_be_built():
    with pytest.raises(TypeError):
        RequestsOfCustomerKey(customer_id=1, status=None)  # type: ignore[call-arg]


def test_keys_are_equal_only_for_the_same_list():
    assert requests_of(1) == requests_of(1) and hash(requests_of(1)) == hash(requests_of(1))
    assert requests_of(1) != requests_of(1, RequestStatus.PENDING)
    assert requests_of(1) != dataclasses.replace(requests_of(1), include_archived=True)
    # same field values, different lists
    assert NotesOfCustomerKey(customer_id=1) != ContractsOfCustomerKey(customer_id=1)
    assert NotesOfCustomerKey(customer_id=1).shape() != ContractsOfCustomerKey(customer_id=1).shape()
    # the shape forgets the parent only
    assert requests_of(1).shape() == requests_of(2).shape()
    assert requests_of(1).shape() != requests_of(1, RequestStatus.PENDING).shape()


def test_a_list_shows_the_children_of_its_parent_column_only():
    requests = Children.of(col(models.SupportRequest.customer_id), 7)
    assert requests_of(7).children == requests
    assert requests_of(3).shows(requests) and OpenRequestsOfCustomerKey(customer_id=3).shows(requests)
    assert not NotesOfCustomerKey(customer_id=7).shows(requests)
    assert not OpenRequestsOfOperatorKey(processed_by_id=7, viewer=Viewer(user_id=1, role=Role.ADMIN)).shows(requests)


# --- one request, several lists ------------------------------------------------------------------


@pytest.mark.usefixtures("resolver_path")
async def test_lists_with_different_filters_in_one_request_keep_their_own_rows(app, gql):
    # given
    customer = await make_customer(app)
    operator = await make_user(app, Role.OPERATOR)
    await make_request(app, customer, body="waiting")
    await make_request(app, customer, body="handled", status=RequestStatus.COMPLETED, processed_by=operator.user)
    await make_request(app, customer, body="shelved", archived=True)
    await make_session(app, customer, title="Talking")
    await make_session(app, customer, title="Done talking", status=ChatSessionStatus.CLOSED)
    admin = await make_user(app, Role.ADMIN)
    # when
    body = await gql(FILTERED_LISTS, {"id": gid("Customer", customer)}, token=admin.token)
    # then
    assert "errors" not in body, body
    data = body["data"]["customer"]
    assert data["all"] == {"totalCount": 2, "nodes": [{"body": "waiting"}, {"body": "handled"}]}
    assert data["pending"] == {"totalCount": 1, "nodes": [{"body": "waiting"}]}
    assert data["completed"] == {"totalCount": 1, "nodes": [{"body": "handled"}]}
    assert data["archivedToo"] == {
        "totalCount": 3,
        "nodes": [{"body": "waiting"}, {"body": "handled"}, {"body": "shelved"}],
    }
    assert data["open"] == {"totalCount": 1, "nodes": [{"title": "Talking"}]}
    assert data["closed"] == {"totalCount": 1, "nodes": [{"title": "Done talking"}]}


async def test_moving_a_request_refreshes_the_lists_of_both_operators_in_the_same_request(app, gql):
    # given: two requests of one customer, both with the first operator
    customer = await make_customer(app)
    first, second = await make_user(app, Role.OPERATOR), await make_user(app, Role.OPERATOR)
    kept = await make_request(app, customer, body="kept", status=RequestStatus.IN_PROGRESS, processed_by=first.user)
    moved = await make_request(app, customer, body="moved", status=RequestStatus.IN_PROGRESS, processed_by=first.user)
    admin = await make_user(app, Role.ADMIN)
    variables = {
        "kept": gid("Request", kept),
        "moved": gid("Request", moved),
        "first": gid("Operator", first.user),
        "second": gid("Operator", second.user),
    }
    # when: the first field caches the first operator's lists, the second moves a request away from it
    body = await gql(MOVE_BETWEEN_OPERATORS, variables, token=admin.token)
    # then
    assert "errors" not in body, body
    before = body["data"]["keep"]["request"]["processedBy"]
    assert before == {
        "openRequestCount": 2,
        "assignedRequests": {"totalCount": 2, "nodes": [{"body": "kept"}, {"body": "moved"}]},
    }
    after = {
        node["body"]: node["processedBy"] for node in body["data"]["move"]["request"]["customer"]["requests"]["nodes"]
    }
    assert after["kept"] == {
        "openRequestCount": 1,
        "assignedRequests": {"totalCount": 1, "nodes": [{"body": "kept"}]},
    }
    assert after["moved"] == {
        "openRequestCount": 1,
        "assignedRequests": {"totalCount": 1, "nodes": [{"body": "moved"}]},
    }


# --- what a write drops --------------------------------------------------------------------------


async def test_a_write_drops_exactly_the_lists_of_the_children_it_changed(app, sql_counter):
    # given: two customers with a request each, and cached pages and counts of their lists in one request
    mine, other = await make_customer(app), await make_customer(app)
    await make_request(app, mine, body="mine")
    await make_request(app, other, body="other")
    loaders = Loaders(app.state.sessionmaker)
    page = PageRequest(first=10)
    assert mine.id is not None and other.id is not None
    cached = [
        loaders.page(requests_of(mine), page),
        loaders.page(requests_of(other), page),
        loaders.page(requests_of(mine, RequestStatus.PENDING), page),
        loaders.count(requests_of(mine)),
        loaders.count(requests_of(other)),
        loaders.count(OpenRequestsOfCustomerKey(customer_id=mine.id)),
        loaders.count(NotesOfCustomerKey(customer_id=mine.id)),
    ]
    await asyncio.gather(*cached)
    # when: a request of `mine` is filed in a unit of work that says what it changed
    async with work(app, loaders) as uow:
        uow.session.add(models.SupportRequest(customer_id=mine.id, body="new"))
        uow.children_changed(col(models.SupportRequest.customer_id), mine.id)
    sql_counter.statements.clear()
    # then: the other customer's lists and the notes of mine are still cached: no statement
    assert [r.body for r in (await loaders.page(requests_of(other), page)).rows] == ["other"]
    assert await loaders.count(requests_of(other)) == 1
    assert await loaders.count(NotesOfCustomerKey(customer_id=mine.id)) == 0
    assert sql_counter.count == 0
    # then: every list of mine's requests, whatever its filter or page, is read again and shows the new one
    assert [r.body for r in (await loaders.page(requests_of(mine), page)).rows] == ["mine", "new"]
    assert sql_counter.count == 1
    assert [r.body for r in (await loaders.page(requests_of(mine, RequestStatus.PENDING), page)).rows] == [
        "mine",
        "new",
    ]
    assert await loaders.count(requests_of(mine)) == 2
    assert await loaders.count(OpenRequestsOfCustomerKey(customer_id=mine.id)) == 2
    assert sql_counter.count == 4


async def test_a_rolled_back_write_drops_nothing(app, sql_counter):
    # given
    customer = await make_customer(app)
    await make_request(app, customer, body="mine")
    loaders = Loaders(app.state.sessionmaker)
    page = PageRequest(first=10)
    await loaders.page(requests_of(customer), page)

    # when
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with work(app, loaders) as uow:
            uow.children_changed(col(models.SupportRequest.customer_id), customer.id)
            raise Boom
    sql_counter.statements.clear()
    # then: still cached
    assert [r.body for r in (await loaders.page(requests_of(customer), page)).rows] == ["mine"]
    assert sql_counter.count == 0
