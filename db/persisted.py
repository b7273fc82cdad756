"""Persisted documents (table `persisted_queries`): Apollo's automatic persisted queries and trusted documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PersistedQuery

TABLE: Table = PersistedQuery.__table__  # type: ignore[attr-defined]  # SQLModel sets `__table__` in its metaclass without declaring it


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    query: str
    trusted: bool
    operation_name: str | None


async def find_document(session: AsyncSession, *, sha256: str) -> StoredDocument | None:
    table = TABLE
    row = (
        await session.execute(
            select(table.c.sha256, table.c.query, table.c.trusted, table.c.operation_name).where(
                table.c.sha256 == sha256
            )
        )
    ).first()
    if row is None:
        return None
    return StoredDocument(row.sha256, row.query, bool(row.trusted), row.operation_name)


async def store_document(session: AsyncSession, *, sha256: str, query: str) -> None:
    """Store an automatic persisted query (untrusted); a document already stored stays as it is."""
    table = TABLE
    await session.execute(
        insert(table)
        .values(sha256=sha256, query=query, trusted=False)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


async def register_trusted(session: AsyncSession, *, sha256: str, query: str, operation_name: str | None) -> bool:
    """Register a trusted document; True when it was new (or was only an automatic persisted query before)."""
    table = TABLE
    before = await find_document(session, sha256=sha256)
    now = datetime.now(UTC)
    stmt = insert(table).values(sha256=sha256, query=query, trusted=True, operation_name=operation_name)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sha256"], set_={"trusted": True, "operation_name": operation_name, "last_used_at": now}
    )
    await session.execute(stmt)
    return before is None or not before.trusted


async def trusted_operation_names(session: AsyncSession) -> set[str]:
    table = TABLE
    rows = await session.execute(
        select(table.c.operation_name).where(table.c.trusted.is_(True), table.c.operation_name.is_not(None))
    )
    return {name for (name,) in rows}
