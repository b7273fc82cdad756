"""The app exists only when a factory is called: no module builds an app or a schema, or configures logging, when it
is imported. A process server calls `server.app:create_app_from_env` (uvicorn `--factory`)."""

import ast
import logging
from pathlib import Path

import pytest
from starlette.applications import Starlette

from server import app as app_module

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "compiled", "schema", "resolvers", "db", "integrations")
BUILDERS = {"create_app", "create_app_from_env", "build_schema", "Starlette", "configure_logging", "node_registry"}


def _called_at_import(path: Path) -> list[str]:
    """Names of BUILDERS called by statements that run on import (outside any function body)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:  # decorators and defaults run on import; the body does not
                visit(decorator)
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    visit(default)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in BUILDERS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def test_no_module_builds_the_app_when_imported():
    calls = [
        call
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for call in _called_at_import(path)
    ]
    assert calls == []
    assert not (ROOT / "server" / "main.py").exists(), "server/main.py built the app at import; use the factory"


def test_the_process_factory_builds_an_app_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # given a configuration in the environment, as a process server has it
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:secret@127.0.0.1:5432/customer_graph")
    monkeypatch.setenv("APP_NAME", "from-the-environment")
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    saved = (root.handlers[:], root.level, access.disabled)  # the factory configures the process's logging
    app_module.get_settings.cache_clear()
    try:
        # when uvicorn calls the factory
        built = app_module.create_app_from_env()
    finally:
        app_module.get_settings.cache_clear()
        root.handlers[:], access.disabled = saved[0], saved[2]
        root.setLevel(saved[1])

    # then it is an app with the environment's settings
    assert isinstance(built, Starlette)
    assert built.state.settings.app.name == "from-the-environment"
