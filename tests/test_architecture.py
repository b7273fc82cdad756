"""Imports point one way: server -> schema -> resolvers -> (db, integrations).

The compiled read path sits beside schema: server calls it, it reads schema, resolvers and db, and nothing below
server imports it. db and integrations never import schema or resolvers; migrations import only db (the table metadata).
Checked on the source text (module-level and function-level imports alike, TYPE_CHECKING excluded).

resolvers/ is plain Python: it imports neither strawberry nor graphql, nor anything of server/ (settings come as
resolvers/settings.py's frozen values), not even for type checking.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("server", "compiled", "schema", "resolvers", "db", "integrations", "migrations")
FORBIDDEN = {
    "compiled": {"server"},
    "db": {"server", "schema", "resolvers", "integrations", "compiled"},
    "integrations": {"server", "schema", "resolvers", "compiled"},
    "resolvers": {"server", "schema", "compiled"},
    "schema": {"server", "compiled"},
    "migrations": {"server", "schema", "resolvers", "integrations", "compiled"},
}


def _imports(path: Path, *, type_checking: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    type_checking_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                type_checking_lines.add(getattr(child, "lineno", -1))
    found: set[str] = set()
    for node in ast.walk(tree):
        if not type_checking and getattr(node, "lineno", -1) in type_checking_lines:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_imports_point_one_way():
    violations = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            bad = _imports(path) & banned
            if bad:
                violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert violations == []


def test_resolvers_know_no_graphql_and_no_server():
    banned = {"strawberry", "graphql", "server"}
    violations = []
    for path in sorted((ROOT / "resolvers").rglob("*.py")):
        bad = _imports(path, type_checking=True) & banned
        if bad:
            violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert violations == []
