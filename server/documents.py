"""`customer-graph register-documents DIR`: register a folder of .graphql files as trusted documents.

Each file's exact UTF-8 text is hashed (SHA-256, hex) and stored in `persisted_queries` with `trusted = true`
and its operation's name (the metrics label of that document). Files that do not parse or do not validate
against this server's schema are reported and not registered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from db.engine import create_engine, create_sessionmaker
from db.persisted import register_trusted
from schema.root import build_schema
from server.persisted_queries import document_hash


@dataclass
class Report:
    registered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _operation_name(text: str) -> str | None:
    names = [
        d.name.value
        for d in parse(text, no_location=True).definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    return names[0] if len(names) == 1 else None


def check_documents(folder: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(valid files with their text, one line per invalid file)."""
    schema = build_schema()._schema
    valid: list[tuple[Path, str]] = []
    invalid: list[str] = []
    for path in sorted(folder.rglob("*.graphql")):
        try:
            text = path.read_text(encoding="utf-8")
            errors = validate(schema, parse(text))
        except (GraphQLError, UnicodeDecodeError) as error:
            errors = [GraphQLError(str(error).splitlines()[0])]
        if errors:
            invalid.append(f"{path}: {errors[0].message}")
        else:
            valid.append((path, text))
    return valid, invalid


async def _register(url: str, documents: list[tuple[Path, str]], report: Report) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            for path, text in documents:
                new = await register_trusted(
                    session, sha256=document_hash(text), query=text, operation_name=_operation_name(text)
                )
                (report.registered if new else report.unchanged).append(str(path))
    finally:
        await engine.dispose()


def register_folder(url: str, folder: Path) -> Report:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a directory")
    valid, invalid = check_documents(folder)
    report = Report(invalid=invalid)
    if valid:
        asyncio.run(_register(url, valid, report))
    return report
