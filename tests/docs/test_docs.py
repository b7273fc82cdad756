"""The documentation stays in step with the code: every operation and error code of the schema is in docs/API.md,
every link in README.md and docs/ points at a file that exists, and nothing points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, build_schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
SCHEMA = build_schema((ROOT / "schema.graphql").read_text())


def operations() -> list[str]:
    roots = [SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type]
    return [f"{root.name}.{name}" for root in roots if root for name in root.fields]


@pytest.mark.parametrize("operation", operations())
def test_every_operation_is_in_the_api_reference(operation: str) -> None:
    text = (ROOT / "docs" / "API.md").read_text()
    name = operation.split(".", 1)[1]
    assert re.search(rf"`{name}[`(]", text), f"docs/API.md does not describe {operation}"


def test_every_error_code_is_in_the_api_reference() -> None:
    text = (ROOT / "docs" / "API.md").read_text()
    codes = SCHEMA.get_type("ErrorCode")
    assert isinstance(codes, GraphQLEnumType)
    missing = [code for code in codes.values if f"`{code}`" not in text]
    assert missing == [], "docs/API.md does not explain these error codes"


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_links_point_at_files_in_the_repository(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text and "shared/API.md" not in text, f"{page.name} points outside the repository"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}, which does not exist"


def test_readme_starts_with_the_two_commands_and_links_every_doc() -> None:
    text = (ROOT / "README.md").read_text()
    first_section = text.split("\n## ", 2)[1]
    assert first_section.startswith("Two commands"), "the README's first section is the two commands"
    assert "make dev" in first_section and "make test" in first_section
    for doc in DOCS:
        assert f"(docs/{doc.name})" in text, f"README.md does not link docs/{doc.name}"
