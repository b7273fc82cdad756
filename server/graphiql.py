"""The GraphiQL explorer at GET /graphql, served from this package: no CDN, works offline.

The page's scripts are built from the npm packages graphiql, @graphiql/plugin-explorer, react and react-dom by
`graphiql/build.mjs` (versions pinned by `graphiql/package-lock.json`) and committed under `graphiql_static/`,
so installing and running the server needs Python only. `make graphiql` rebuilds them."""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "graphiql_static"
STATIC_PATH = "/graphiql/static"

DEFAULT_QUERY = """\
# Welcome to customer-graph.
#
# 1. Sign in: run the login mutation below (`make dev` prints the demo logins; this is its admin).
# 2. Copy the token into the Headers pane below:  {"Authorization": "Bearer <token>"}
# 3. Then ask for what you may see, e.g.  query { me { email role } customers(first: 5) { nodes { id firstName } } }
#
# The Explorer (compass icon on the left) builds queries by ticking fields; Docs shows every type.

mutation Login {
  login(input: {email: "admin@demo.local", password: "demo-password-1"}) {
    token
    expiresAt
    user { email role }
    errors { code message field }
  }
}
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} — GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{static}/graphiql.css">
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script type="application/json" id="graphiql-config">{config}</script>
  <script src="{static}/graphiql.js"></script>
</body>
</html>
"""


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


def render_page(request: Request, *, title: str, default_query: str = DEFAULT_QUERY) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    config = {
        "endpoint": request.url.path,
        "staticUrl": root + STATIC_PATH,
        "subscriptions": True,
        "defaultQuery": default_query,
    }
    # JSON inside <script>: escape "<" so no string can close the element.
    payload = json.dumps(config).replace("<", "\\u003c")
    return HTMLResponse(PAGE.format(title=html.escape(title), static=html.escape(root + STATIC_PATH), config=payload))
