"""schema.graphql is committed for codegen users: it must match the code."""

from pathlib import Path

from schema.root import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_code():
    exported = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.read_text() == exported, "schema.graphql is stale: run `make schema` and commit it"


def test_every_type_and_field_is_described():
    schema = build_schema()._schema
    missing = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gql_type.description:
            missing.append(name)
        for field_name, field in (getattr(gql_type, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []
