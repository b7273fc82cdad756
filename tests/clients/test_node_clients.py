"""Node clients against the live server (uvicorn on 127.0.0.1): GraphQL Code Generator from introspection and from
the committed schema.graphql (identical output, a typed sample client that passes `tsc --noEmit`), and Apollo Client
running the seed flow. The packages are this folder's package.json/package-lock.json (`make test` runs `npm ci`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from db.enums import Role
from integrations.auth.passwords import hash_password
from tests.factories import make_user

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PASSWORD = "a-long-enough-password"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js is not installed: the Node client tests (tests/clients) need node and npm")
    modules = HERE / "node_modules"
    lock = HERE / "package-lock.json"
    if not modules.is_dir() or modules.stat().st_mtime < lock.stat().st_mtime:
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=600)
    return modules


def run(command: list[str], *, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    result = subprocess.run(
        command, cwd=HERE, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return output


def codegen(modules: Path, schema: str, out: Path) -> dict[str, str]:
    """Generated schema.ts and operations.ts, by name (`out` is emptied first)."""
    shutil.rmtree(out, ignore_errors=True)
    run(
        [str(modules / ".bin" / "graphql-codegen"), "--config", "codegen.ts"],
        env={"SCHEMA": schema, "OUT_DIR": str(out)},
    )
    return {name: (out / name).read_text() for name in ("schema.ts", "operations.ts")}


def test_codegen_from_introspection_equals_codegen_from_schema_file_and_type_checks(
    node_modules: Path, live_server: str, tmp_path: Path
) -> None:
    # when types are generated from the live server's introspection and from the committed schema.graphql
    from_server = codegen(node_modules, f"{live_server}/graphql", tmp_path / "from-server")
    from_file = codegen(node_modules, str(ROOT / "schema.graphql"), tmp_path / "from-file")

    # then both are the same, and they type the schema and the operations the clients use
    assert from_server == from_file
    assert "export type Customer = Node & {" in from_file["schema.ts"]
    assert "'INVALID_TRANSITION'" in from_file["schema.ts"]
    assert "export type CustomerRequestsQuery" in from_file["operations.ts"]
    assert "export const AssignRequestDocument" in from_file["operations.ts"]

    # and the sample client type-checks against them
    codegen(node_modules, f"{live_server}/graphql", HERE / "generated")
    run([str(node_modules / ".bin" / "tsc"), "--noEmit", "-p", "tsconfig.json"])


def test_typecheck_fails_on_a_field_the_schema_does_not_have(node_modules: Path, tmp_path: Path) -> None:
    """The check can fail: the same sample reading a misspelt result field does not compile."""
    codegen(node_modules, str(ROOT / "schema.graphql"), HERE / "generated")
    broken = HERE / "src" / "broken.ts"
    sample = (HERE / "src" / "client.ts").read_text()
    broken.write_text(sample.replace("r.status)", "r.state)"))
    try:
        result = subprocess.run(
            [str(node_modules / ".bin" / "tsc"), "--noEmit", "-p", "tsconfig.json"],
            cwd=HERE, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        broken.unlink()
    assert result.returncode != 0
    assert "state" in result.stdout + result.stderr


async def test_apollo_client_runs_the_seed_flow(node_modules: Path, app: Any, live_server: str) -> None:
    admin = await make_user(app, Role.ADMIN, email="apollo-admin@example.com", password_hash=hash_password(PASSWORD))
    output = run(
        ["node", "--test", "--test-reporter=tap", "apollo.test.mjs"],
        env={"API_URL": f"{live_server}/graphql", "ADMIN_EMAIL": admin.user.email, "ADMIN_PASSWORD": PASSWORD},
    )
    assert "# fail 0" in output, output
    assert "# pass 5" in output, output  # the flow and its four sub-tests
