"""Imports point one way: server -> schema -> resolvers -> (db, integrations), and never in a circle.

The compiled read path sits beside schema: server calls it, it reads schema, resolvers and db, and nothing below
server imports it. db and integrations never import schema or resolvers; migrations import only db (the table metadata).

Checked on the source text. For the direction every reference counts: imports at module level, inside functions and
under `if TYPE_CHECKING:`, and the module named in `strawberry.lazy("...")`. For cycles what runs counts: imports
at module level and inside functions (an import moved into a function still closes the loop, only later), not
TYPE_CHECKING imports nor lazy references, which are how two GraphQL types name each other (schema/refs.py).
An import inside a function is kept only for an optional dependency, and a comment on its line says so.

resolvers/ is plain Python: it imports neither strawberry nor graphql, nor anything of server/ (settings come as
resolvers/settings.py's frozen values), not even for type checking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
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
# Type-only references that break the direction today and are being moved. Each entry is one (module, imported
# module); remove it with the move. (The last ones, server.settings in resolvers/, went with resolvers/settings.py.)
KNOWN_TYPE_ONLY: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Edge:
    source: str  # the importing module, e.g. "schema.chat"
    target: str  # the imported module, e.g. "schema.customers"
    line: int
    kind: str  # "module", "function", "type_checking" or "lazy"

    @property
    def runs(self) -> bool:
        """Whether the import is executed (a TYPE_CHECKING import or a lazy reference is not)."""
        return self.kind in ("module", "function")

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.kind}, line {self.line})"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))}


def _is_package(module: str) -> bool:
    return MODULES.get(module, Path()).name == "__init__.py"


def _absolute(source: str, module: str | None, level: int) -> str:
    """`from .x import y` in `source`, as an absolute module name."""
    if level == 0:
        return module or ""
    package = source.split(".") if _is_package(source) else source.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def _lazy_module(node: ast.Call) -> str | None:
    """The module of `strawberry.lazy("module")` / `lazy("module")`."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name != "lazy" or not node.args:
        return None
    arg = node.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


class _Collector(ast.NodeVisitor):
    def __init__(self, source: str) -> None:
        self.source = source
        self.edges: list[Edge] = []
        self._functions = 0
        self._type_checking = 0

    def _kind(self) -> str:
        if self._type_checking:
            return "type_checking"
        return "function" if self._functions else "module"

    def _add(self, target: str, line: int, kind: str | None = None) -> None:
        self.edges.append(Edge(self.source, target, line, kind or self._kind()))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_checking += 1
        for child in node.body:
            self.visit(child)
        self._type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _absolute(self.source, node.module, node.level)
        for alias in node.names:
            submodule = f"{module}.{alias.name}"  # `from schema import chat` imports the module schema.chat
            self._add(submodule if submodule in MODULES else module, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        module = _lazy_module(node)
        if module is not None:
            dots = len(module) - len(module.lstrip("."))
            self._add(_absolute(self.source, module[dots:], dots), node.lineno, "lazy")
        self.generic_visit(node)


def _edges(module: str) -> list[Edge]:
    path = MODULES[module]
    collector = _Collector(module)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return collector.edges


EDGES = [edge for module in MODULES for edge in _edges(module)]


def _ours(target: str) -> bool:
    return target.split(".")[0] in LAYERS


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over the modules of our packages.

    Importing `a.b.c` runs the package `a.b` first, so an edge to a module is an edge to the packages above it
    too, except to the importer's own packages: those are always imported before the importer runs."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for edge in edges:
        if not _ours(edge.target):
            continue
        own = {edge.source.rpartition(".")[0]} if not _is_package(edge.source) else {edge.source}
        parts = edge.target.split(".")
        for end in range(1, len(parts)):
            above = ".".join(parts[:end])
            if not any(package == above or package.startswith(above + ".") for package in own):
                graph[edge.source].add(above)
        graph[edge.source].add(edge.target)
    for module in graph:
        graph[module] = {target for target in graph[module] if target in graph and target != module}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return found


def _function_imports(path: Path, edges: list[Edge]) -> Iterator[str]:
    lines = path.read_text().splitlines()
    for edge in edges:
        if edge.kind != "function":
            continue
        text = lines[edge.line - 1]
        if _ours(edge.target) or not text.partition("#")[2].strip():
            yield f"{edge}: {text.strip()}"


def test_the_collector_sees_every_kind_of_reference():
    """The rules below are only as good as what is collected; these edges exist in the tree today."""
    seen = {(edge.source, edge.target, edge.kind) for edge in EDGES}
    assert ("schema.customers", "schema.chat", "module") in seen  # `from schema import chat as chat_schema`
    assert ("schema.chat", "schema.customers", "type_checking") in seen
    assert ("schema.refs", "schema.customers", "lazy") in seen
    assert ("server.embedded_pg", "pgserver", "function") in seen


def test_imports_point_one_way():
    violations = [
        str(edge)
        for edge in EDGES
        if edge.target.split(".")[0] in FORBIDDEN.get(edge.source.split(".")[0], set())
        and not (edge.kind == "type_checking" and (edge.source, edge.target) in KNOWN_TYPE_ONLY)
    ]
    assert violations == []


def test_resolvers_know_no_graphql_and_no_server():
    banned = {"strawberry", "graphql", "server"}
    violations = [
        str(edge) for edge in EDGES if edge.source.split(".")[0] == "resolvers" and edge.target.split(".")[0] in banned
    ]
    assert violations == []


def test_known_exceptions_still_exist():
    """An entry of KNOWN_TYPE_ONLY that no longer matches an import is stale: delete it."""
    type_only = {(edge.source, edge.target) for edge in EDGES if edge.kind == "type_checking"}
    assert KNOWN_TYPE_ONLY - type_only == set()


def test_no_import_cycles():
    """Within a package and across them: a cycle among modules of server, compiled, schema, resolvers, db,
    integrations or migrations, through imports that run (module level or inside a function)."""
    assert _cycles([edge for edge in EDGES if edge.runs]) == []


def test_the_cycle_check_finds_a_loop_hidden_in_a_function():
    hidden = (
        Edge("schema.customers", "schema.chat", 1, "module"),
        Edge("schema.chat", "schema.customers", 2, "function"),
    )
    assert _cycles(list(hidden)) == [["schema.chat", "schema.customers"]]
    type_only = hidden[0], Edge("schema.chat", "schema.customers", 2, "type_checking")
    assert _cycles([edge for edge in type_only if edge.runs]) == []


def test_imports_inside_functions_are_optional_dependencies_only():
    """Our own modules are imported at the top (a loop then fails at start-up, and the tests above see it); a
    third-party import inside a function is kept only for an optional dependency, with a comment on its line
    saying so (`import pgserver  # imported lazily: production never needs it`)."""
    found = [
        line
        for module, path in MODULES.items()
        for line in _function_imports(path, [edge for edge in EDGES if edge.source == module])
    ]
    assert found == []


# What only resolvers/ may use: the loaders and the database. schema/ reads rows through resolvers/ (db's tables,
# enums and page shape are types it may name).
DATA_ACCESS = ("db.loaders", "db.engine", "db.reader", "db.statements", "sqlalchemy", "sqlmodel", "asyncpg")


def test_schema_reads_through_resolvers():
    found = [str(edge) for edge in EDGES if edge.source.startswith("schema.") and edge.target.startswith(DATA_ACCESS)]
    for module, path in MODULES.items():
        if module.startswith("schema."):
            tree = ast.parse(path.read_text(), filename=str(path))
            found += [
                f"{module} line {node.lineno}: {ast.unparse(node)}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr in ("loaders", "sessionmaker")
            ]
    assert found == []
