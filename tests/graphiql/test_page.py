"""The GraphiQL page and its assets come from this server: no CDN, and the committed build matches its recipe."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from server.app import create_app
from server.graphiql import STATIC_DIR
from tests.conftest import test_settings as settings_with

ROOT = Path(__file__).resolve().parents[2]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_browser_gets_the_page_and_every_asset_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        if source.startswith("data:"):
            continue
        assert source.startswith("/"), f"{source} is not served by this server"
        asset = await client.get(source)
        assert asset.status_code == 200, source
    # the workers and the icon font the bundle loads at run time are here too
    for name in ("editor.worker.js", "json.worker.js", "graphql.worker.js", "codicon.ttf"):
        assert (await client.get(f"/graphiql/static/{name}")).status_code == 200, name
    config = json.loads(re.search(r'id="graphiql-config">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert config["endpoint"] == "/graphql"
    assert "login" in config["defaultQuery"]


async def test_no_page_and_no_assets_when_graphiql_is_off(database_url: str) -> None:
    application: Any = create_app(settings_with(limits__graphiql=False), database_url_override=database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            page = await client.get("/graphql", headers=BROWSER)
            assert "graphiql" not in page.text.lower()
            assert (await client.get("/graphiql/static/graphiql.js")).status_code == 404


def test_committed_build_matches_its_lock_file_and_its_files() -> None:
    """server/graphiql_static/ is built by graphiql/build.mjs: BUILD.json names the package versions it was built
    from (they must be the lock file's) and the SHA-256 of every file (they must be the files')."""
    build = json.loads((STATIC_DIR / "BUILD.json").read_text())
    lock = json.loads((ROOT / "graphiql" / "package-lock.json").read_text())
    wanted = lock["packages"][""]["dependencies"]
    assert set(build["packages"]) == set(wanted)
    for name, version in build["packages"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    on_disk = {p.name for p in STATIC_DIR.iterdir() if p.name != "BUILD.json"}
    assert on_disk == set(build["files"])
    for name, digest in build["files"].items():
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == digest, f"{name} changed by hand"
