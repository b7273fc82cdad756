"""Compiled writes: a mutation answered by ONE SQL statement that writes what the resolver path's unit of work
writes — the row, its audit record, its outbox row, its notification — and returns the payload's JSON.

Only `createCustomer` so far: the write a sales desk repeats all day. The rule mirrors resolvers/customers.py:
`create_customer` (its validation is that module's own `new_customer_fields`) and
tests/compiled/test_compiled_writes.py holds the two to each other: same answers, same rows, same notification.

The statement (autocommit: it is its own transaction, so everything or nothing is written):

    WITH c AS (INSERT INTO customers … SELECT … WHERE <the viewer's row is as expected>
                                                 AND NOT EXISTS (<a live customer with this email>) RETURNING *),
         a AS (INSERT INTO audit_records … FROM c),
         o AS (INSERT INTO outbox … FROM c)
    SELECT <payload JSON>, pg_notify('customer_created', …) FROM c

What hands a request over to the resolver path, which then answers it as always (nothing has been written):
- a viewer who may not create customers (FORBIDDEN there), input it refuses (VALIDATION in the payload, NUL);
- no row back: the email is a live customer's (CONFLICT there), or the viewer's row changed since it was read;
- PostgreSQL refusing the statement (a unique violation in a race, a statement time-out): it was rolled back.
A failure that may have come after the commit — the connection dropped or was shut down after the statement was
sent (`MAYBE_COMMITTED`) — leaves the outcome unknown: that request is answered SERVICE_UNAVAILABLE
(`OutcomeUnknown`) and never run again by the resolver path, which could otherwise write the customer twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from compiled import rules
from compiled import sqltext as q
from compiled.tree import Sel, Tree, Unplannable
from db.enums import AuditStatus
from resolvers import customers as customers_resolvers
from resolvers import events
from resolvers import outbox as outbox_resolvers
from resolvers.errors import DomainError
from resolvers.unit_of_work import Actor
from resolvers.viewer import Viewer
from schema.input_guard import nul_path

CREATE_CUSTOMER = "createCustomer"
INPUT_FIELDS: tuple[tuple[str, str], ...] = (
    ("first_name", "firstName"),
    ("last_name", "lastName"),
    ("email", "email"),
    ("phone", "phone"),
    ("company", "company"),
)
PAYLOAD_FIELDS = frozenset({"customer", "errors"})
USER_ERROR_FIELDS = frozenset({"code", "message", "field"})


class OutcomeUnknown(Exception):
    """The write statement was sent and no answer came back: it may or may not have committed."""


# SQLSTATEs that may arrive after the statement committed: the connection failed or was shut down (08, 57P0x),
# or the server itself failed (58, XX). Any other error PostgreSQL reports for the statement rolled it back.
MAYBE_COMMITTED = ("08", "57P01", "57P02", "57P03", "58", "XX")


def maybe_committed(error: Exception) -> bool:
    state = str(getattr(error, "sqlstate", "") or "")
    return not state or state.startswith(MAYBE_COMMITTED)


def known(type_name: str, field_name: str) -> bool:
    if type_name == "Mutation":
        return field_name == CREATE_CUSTOMER
    if type_name == "CustomerPayload":
        return field_name in PAYLOAD_FIELDS
    if type_name == "UserError":
        return field_name in USER_ERROR_FIELDS
    return False


def rule(type_name: str, field_name: str) -> Callable[[dict[str, Any], Viewer], rules.Bound] | None:
    return bind_create_customer if (type_name, field_name) == ("Mutation", CREATE_CUSTOMER) else None


def check(tree: Tree) -> None:
    """A write document has exactly one write: one `createCustomer` (besides `__typename`)."""
    writes = [sel for sel in tree.roots if sel.name != "__typename"]
    if len(writes) != 1:
        raise Unplannable("not exactly one write")


def bind_create_customer(args: dict[str, Any], viewer: Viewer) -> rules.Bound:
    """`createCustomer` (resolvers/customers.py: create_customer) for this viewer, who must be an editor."""
    if viewer.role not in customers_resolvers.EDITORS:
        raise Unplannable("not allowed to create customers")
    given = args.get("input") or {}
    if nul_path(given) is not None:  # the field's own guard (schema/input_guard.py) answers it in the payload
        raise Unplannable("NUL in the input")
    values = {name: given.get(api) for name, api in INPUT_FIELDS}
    try:
        fields = customers_resolvers.new_customer_fields(values)
    except DomainError:
        raise Unplannable("input the resolver path refuses")
    b = rules.Bound()
    for name, _api in INPUT_FIELDS:
        b.add(name, fields.get(name), "text")
    b.add("details", orjson.dumps(customers_resolvers.created_details(fields)).decode(), "text")
    actor = Actor.user(user_id=viewer.user_id, role=viewer.role)
    b.add("actor", actor.user_id, "bigint")
    b.add("label", actor.label, "text")
    # The viewer's row as the request saw it: the statement writes only if it is still so.
    b.add("role", viewer.role.value, "text")
    b.add("customer", viewer.customer_id, "bigint")
    b.add("verified", viewer.email_verified, "boolean")
    return b


def stamp(tree: Tree, bounds: list[rules.Bound], request_id: str | None) -> None:
    """The request's id for the audit record (the unit of work's `request_id`)."""
    index = next(i for i, sel in enumerate(tree.bindables) if sel.name == CREATE_CUSTOMER)
    bounds[index].add("request_id", request_id, "text")


def compile_write(builder: rules.Builder, tree: Tree) -> str:
    pairs: list[tuple[str, str]] = []
    write: Sel | None = None
    for sel in tree.roots:
        if sel.name == "__typename":
            pairs.append((sel.key, q.literal("Mutation")))
        else:
            write = sel
            pairs.append((sel.key, _payload(builder, sel)))
    assert write is not None
    return _create_customer_sql(builder, write, q.json_object(pairs))


def _payload(builder: rules.Builder, sel: Sel) -> str:
    pairs: list[tuple[str, str]] = []
    for child in sel.children:
        if child.name == "__typename":
            pairs.append((child.key, q.literal(sel.type_name)))
        elif child.name == "customer":
            pairs.append((child.key, builder.object("Customer", child.children, "c")))
        else:  # errors: none when the write happened
            pairs.append((child.key, "'[]'::json"))
    return q.json_object(pairs)


def _create_customer_sql(builder: rules.Builder, sel: Sel, data: str) -> str:
    ph = builder.ph(sel)
    ref = q.global_id("Customer", "c")
    email = ph["email"]
    viewer_as_read = (
        f"SELECT 1 FROM users u WHERE u.id = {ph['actor']} AND u.is_active AND u.role::text = {ph['role']}"
        f" AND u.customer_id IS NOT DISTINCT FROM {ph['customer']} AND u.email_verified = {ph['verified']}"
    )
    email_taken = (  # resolvers/customers.py: _email_taken; the index uq_customers_email_live serves it
        f"SELECT 1 FROM customers x WHERE lower(x.email) = lower({email}) AND x.email IS NOT NULL"
        " AND x.erased_at IS NULL"
    )
    columns = ", ".join(name for name, _api in INPUT_FIELDS)
    values = ", ".join(ph[name] for name, _api in INPUT_FIELDS)
    action = q.literal(customers_resolvers.CUSTOMER_CREATED_ACTION)
    notification = "'{\"id\":' || c.id || '}'"  # orjson.dumps({"id": id}), as `uow.publish` sends it
    return (
        f"WITH c AS (INSERT INTO customers ({columns}) SELECT {values}"
        f" WHERE EXISTS ({viewer_as_read}) AND ({email} IS NULL OR NOT EXISTS ({email_taken})) RETURNING *),"
        " a AS (INSERT INTO audit_records (action, entity_type, entity_id, actor_id, actor_label, status, details,"
        f" request_id) SELECT {action}, 'Customer', {ref}, {ph['actor']}, {ph['label']},"
        f" {q.literal(AuditStatus.SUCCESS.value)}, ({ph['details']})::jsonb, {ph['request_id']} FROM c),"
        f" o AS (INSERT INTO outbox (topic, payload) SELECT {q.literal(outbox_resolvers.CUSTOMER_CREATED)},"
        f" jsonb_build_object('customer_id', c.id, 'id', {ref}, 'source', 'staff') FROM c)"
        f" SELECT {data}::text, pg_notify({q.literal(events.CUSTOMER_CREATED)}, {notification}) FROM c"
    )
