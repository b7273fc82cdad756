"""The audit trail: `AuditRecord`, `auditRecords` / `auditRecord`, and ADMIN's create / update / delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from db import models
from resolvers import audit_records as audit_resolvers
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.ids import decode_id, filter_id, to_global_id
from schema.pagination import Connection
from schema.users import User


@strawberry.type(description="One entry of the audit trail: who did what to which entity, and when.")
class AuditRecord(Node):
    occurred_at: datetime = strawberry.field(description="When it happened.")
    action: str = strawberry.field(description='What happened, as "<entity>.<verb>", e.g. "customer.created".')
    entity_type: str = strawberry.field(description='The type of the entity acted on, e.g. "Customer".')
    entity_id: str | None = strawberry.field(description="The global ID of the entity acted on.")
    actor_label: str = strawberry.field(description='Who acted, without personal data: "<role>:<user id>".')
    status: str = strawberry.field(description="SUCCESS or FAILURE.")
    details: JSON = strawberry.field(description="Changed fields with before/after, and context; never secrets.")
    request_id: str | None = strawberry.field(description="The request that made the change, to find it in the logs.")
    _row: strawberry.Private[models.AuditRecord]

    @classmethod
    def from_row(cls, row: models.AuditRecord) -> AuditRecord:
        return cls(
            id=strawberry.ID(to_global_id("AuditRecord", row.id)),
            occurred_at=row.occurred_at,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            actor_label=row.actor_label,
            status=row.status,
            details=cast(JSON, row.details),  # JSON is a NewType of object: a dict is one
            request_id=row.request_id,
            _row=row,
        )

    @strawberry.field(description="The user who acted; null for the system, anonymous callers or deleted users.")
    async def actor(self, info: Info) -> User | None:
        if self._row.actor_id is None:
            return None
        row = await users_resolvers.visible_user(info.context, user_id=self._row.actor_id)
        return User.from_row(row) if row else None


@strawberry.type(description="A page of audit records, newest first.")
class AuditRecordConnection(Connection[AuditRecord]):
    pass


async def load_audit_record_node(ctx: RequestContext, pk: int) -> AuditRecord | None:
    row = await audit_resolvers.visible_audit_record(ctx, record_id=pk)
    return AuditRecord.from_row(row) if row else None


@strawberry.input(description="Which audit records to list; the conditions combine with AND.")
class AuditRecordFilter:
    entity_type: str | None = strawberry.field(default=None, description='Only this entity type, e.g. "Customer".')
    entity_id: str | None = strawberry.field(default=None, description="Only this entity (its global ID).")
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only what this user did (a User or Operator ID)."
    )
    action: str | None = strawberry.field(default=None, description='Only this action, e.g. "request.assigned".')
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only records at or after this time (inclusive)."
    )
    to: datetime | None = strawberry.field(default=None, description="Only records before this time (exclusive).")


@strawberry.input(description="Write an audit record by hand (ADMIN).")
class CreateAuditRecordInput:
    action: str = strawberry.field(description='What happened, "<entity>.<verb>" (1-64 characters).')
    entity_type: str = strawberry.field(description="The entity's type (1-64 characters).")
    entity_id: str | None = strawberry.field(default=None, description="The entity's global ID.")
    status: str | None = strawberry.field(default=None, description="SUCCESS (default) or FAILURE.")
    details: JSON | None = strawberry.field(default=None, description="A JSON object (at most 64 KiB).")


@strawberry.input(description="Change an audit record's status or details (ADMIN). Absent fields stay as they are.")
class UpdateAuditRecordInput:
    id: strawberry.ID = strawberry.field(description="The audit record.")
    status: str | None = strawberry.field(
        default=strawberry.UNSET, description="SUCCESS or FAILURE; absent or null keeps the current status."
    )
    details: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A JSON object replacing the details; null clears them to {}."
    )


@strawberry.type(description="The result of creating, updating or deleting an audit record.")
class AuditRecordPayload:
    audit_record: AuditRecord | None = strawberry.field(
        description="The record (as it was, for a delete); null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


def _given(value: Any) -> Any:
    return audit_resolvers.KEEP if value is strawberry.UNSET else value


@strawberry.type
class Query:
    @strawberry.field(description="The audit trail, newest first (ADMIN only).")
    async def audit_records(
        self,
        info: Info,
        filter: Annotated[AuditRecordFilter | None, strawberry.argument(description="Conditions.")] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size: 0-50 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size from the end: 0-50.")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor: items before this one.")] = None,
    ) -> AuditRecordConnection:
        f = filter or AuditRecordFilter()
        page = await audit_resolvers.audit_records(
            info.context,
            entity_type=f.entity_type,
            entity_id=f.entity_id,
            # Operators are users: either global ID names the same actor. Any other ID matches nothing.
            actor_id=filter_id(f.actor_id, "User", "Operator"),
            action=f.action,
            occurred_from=f.from_,
            occurred_to=f.to,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        return AuditRecordConnection.from_page(page, AuditRecord.from_row)

    @strawberry.field(description="An audit record by ID (ADMIN only); null when absent.")
    async def audit_record(self, info: Info, id: strawberry.ID) -> AuditRecord | None:
        row = await audit_resolvers.audit_record(info.context, pk=decode_id(id, "AuditRecord"))
        return AuditRecord.from_row(row) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Write an audit record by hand (ADMIN only); audited itself.")
    async def create_audit_record(self, info: Info, input: CreateAuditRecordInput) -> AuditRecordPayload:
        work = audit_resolvers.create_audit_record(
            info.context,
            action=input.action,
            entity_type=input.entity_type,
            entity_id=input.entity_id,
            status=input.status,
            details=input.details,
        )
        return await to_payload(AuditRecordPayload, "audit_record", AuditRecord.from_row, work)

    @strawberry.mutation(description="Change an audit record's status or details (ADMIN only); audited itself.")
    async def update_audit_record(self, info: Info, input: UpdateAuditRecordInput) -> AuditRecordPayload:
        work = audit_resolvers.update_audit_record(
            info.context,
            pk=decode_id(input.id, "AuditRecord"),
            status=_given(input.status),
            details=_given(input.details),
        )
        return await to_payload(AuditRecordPayload, "audit_record", AuditRecord.from_row, work)

    @strawberry.mutation(description="Delete an audit record (ADMIN only); the deletion is audited itself.")
    async def delete_audit_record(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The audit record.")]
    ) -> AuditRecordPayload:
        work = audit_resolvers.delete_audit_record(info.context, pk=decode_id(id, "AuditRecord"))
        return await to_payload(AuditRecordPayload, "audit_record", AuditRecord.from_row, work)
