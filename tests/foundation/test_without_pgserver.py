"""Without DATABASE_URL and without the embedded PostgreSQL installed (the production image has no `pgserver`: it is
the `embedded` extra), every way of starting the server says in one line what to do, with no traceback.

The processes run with a `sitecustomize` that makes `import pgserver` fail, as it does where it is not installed."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.foundation.conftest import CUSTOMER_GRAPH, free_port

BLOCK_PGSERVER = """
import sys


class NoPgserver:
    def find_spec(self, name, path=None, target=None):
        if name == "pgserver" or name.startswith("pgserver."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoPgserver())
"""


@pytest.fixture
def env_without_pgserver(tmp_path: Path, clean_env: dict[str, str]) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_PGSERVER)
    pythonpath = [str(site), *filter(None, [clean_env.get("PYTHONPATH")])]
    return {
        **clean_env,
        "PYTHONPATH": ":".join(pythonpath),
        "APP_ENV": "development",
        "APP_DATA_DIR": str(tmp_path / "data"),
    }


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_blocker_works(env_without_pgserver: dict[str, str], tmp_path: Path) -> None:
    result = _run([sys.executable, "-c", "import pgserver"], env_without_pgserver, tmp_path)
    assert result.returncode != 0 and "No module named 'pgserver'" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [*CUSTOMER_GRAPH, "serve", "--host", "127.0.0.1", "--port", "{port}"],
        [*CUSTOMER_GRAPH, "dev", "--no-serve"],
        [*CUSTOMER_GRAPH, "migrate", "upgrade"],
        [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app_from_env", "--port", "{port}"],
    ],
    ids=["serve", "dev", "migrate", "uvicorn-factory"],
)
def test_the_server_says_to_set_database_url_or_install_the_extra(
    command: list[str], env_without_pgserver: dict[str, str], tmp_path: Path
) -> None:
    # given no DATABASE_URL and no pgserver
    port = str(free_port())

    # when the server is started
    result = _run([part.replace("{port}", port) for part in command], env_without_pgserver, tmp_path)

    # then it stops at once with one line naming both ways out, and no traceback
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if "DATABASE_URL is unset" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("customer-graph: ")
    assert "set DATABASE_URL" in lines[0] and "pip install 'customer-graph[embedded]'" in lines[0]
