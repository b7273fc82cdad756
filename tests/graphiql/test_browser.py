"""GraphiQL as a person uses it: the real server on 127.0.0.1, Debian's Chromium (headless, no network beyond
loopback) driven by Playwright. Sign in through the page, put the token in the headers pane, run a query, read
the answer. A screenshot goes to test-output/graphiql/ (or $TEST_OUTPUT_DIR)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from db.enums import Role
from integrations.auth.passwords import hash_password
from tests.factories import make_customer, make_user

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PASSWORD = "a-long-enough-password"


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Chromium is not installed (apt-get install -y chromium): the GraphiQL browser test needs it")
    return path


def output_dir() -> Path:
    path = Path(os.environ.get("TEST_OUTPUT_DIR", "test-output")) / "graphiql"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def editor_text(page: Any, selector: str) -> str:
    """What a Monaco editor shows (its rendered lines, in order)."""
    text: str = await page.locator(f"{selector} .view-lines").inner_text()
    return text.replace("\u00a0", " ")


async def type_into(page: Any, selector: str, text: str, *, stored_as: str | None = None) -> None:
    """Click into an editor, select everything, and type over it (inserted as text: no auto-closed brackets).

    With `stored_as`, then wait until GraphiQL has taken the edit in: it saves the query editor's text under
    that localStorage key (debounced) once its own state has it. A click on Run before that can run what the
    editor held a moment earlier — on a loaded machine, the empty document left by the Delete. (Headers are
    not persisted; the query typed after them gives their edit the same time to settle.)"""
    await page.locator(f"{selector} .monaco-editor:visible").first.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(text)
    if stored_as is None:
        return
    await page.wait_for_function(
        "([key, text]) => localStorage.getItem(key) === text", arg=[stored_as, text], timeout=30_000
    )


async def run_and_wait(page: Any, expect: str) -> str:
    await page.locator(".graphiql-execute-button").click()
    result = ".graphiql-response"
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_function(
            """([sel, expect]) => { const e = document.querySelector(sel + ' .view-lines');
                   return e && e.innerText.includes(expect); }""",
            arg=[result, expect],
            timeout=60_000,  # generous: the editor is slow to start on a loaded 2-core machine
        )
    except PlaywrightTimeout:
        # say what the page shows instead, so a failure in CI can be read without a rerun
        shown = await page.evaluate(
            "sel => { const e = document.querySelector(sel + ' .view-lines'); return e ? e.innerText : null; }", result
        )
        query = await editor_text(page, ".graphiql-query-editor")
        raise AssertionError(f"waited 60 s for {expect!r}; the response pane shows {shown!r}; the query: {query!r}")
    return await editor_text(page, result)


async def test_sign_in_and_query_in_graphiql(app: Any, live_server: str) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    # given an admin with a password and a customer
    admin = await make_user(app, Role.ADMIN, email="graphiql-admin@example.com", password_hash=hash_password(PASSWORD))
    await make_customer(app, first_name="Grace", last_name="Hopper", email="grace@example.com")

    outside: list[str] = []
    console_errors: list[str] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cg-chromium-") as profile:
        async with async_playwright() as pw:
            # a fresh profile (--user-data-dir) in a temporary directory
            browser = await pw.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 900},
            )
            page = await browser.new_page()
            try:
                page.on(
                    "request",
                    lambda r: outside.append(r.url) if not r.url.startswith((live_server, "data:", "blob:")) else None,
                )
                page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
                page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

                # when a person opens /graphql in the browser
                await page.goto(f"{live_server}/graphql", wait_until="load")
                await page.locator(".graphiql-query-editor .monaco-editor").wait_for(timeout=30_000)
                assert "login" in await editor_text(page, ".graphiql-query-editor")  # the welcome document

                # ... the explorer plugin is there
                await page.get_by_label("Show GraphiQL Explorer").click()
                await page.locator(".graphiql-explorer-root").wait_for(timeout=30_000)
                assert "assignRequest" in await page.locator(".graphiql-explorer-root").inner_text()

                # ... signs in with the login mutation
                await type_into(
                    page,
                    ".graphiql-query-editor",
                    f'mutation {{ login(input: {{email: "{admin.user.email}", password: "{PASSWORD}"}}) '
                    "{ token user { email role } errors { code } } }",
                    stored_as="graphiql:query",
                )
                answer = await run_and_wait(page, '"token"')
                token = re.search(r'"token":\s*"([^"]+)"', answer)  # the pane wraps long lines: drop the breaks
                assert token, answer

                # ... puts the token in the headers pane
                await page.get_by_role("button", name="Headers").click()
                bearer = "Bearer " + re.sub(r"\s+", "", token.group(1))
                await type_into(page, ".graphiql-editor-tool", json.dumps({"Authorization": bearer}))

                # ... and asks who they are and for the customers
                await type_into(
                    page,
                    ".graphiql-query-editor",
                    "query Mine { me { email role } customers(first: 5) { totalCount nodes { firstName lastName } } }",
                    stored_as="graphiql:query",
                )
                answer = await run_and_wait(page, '"Hopper"')
                await page.screenshot(path=str(output_dir() / "graphiql.png"), full_page=True)
            except Exception:
                await page.screenshot(path=str(output_dir() / "graphiql-failure.png"), full_page=True)
                raise
            finally:
                await browser.close()

    # then the answer is shown: signed in as the admin, the customer listed
    assert '"graphiql-admin@example.com"' in answer
    assert '"ADMIN"' in answer
    assert '"Grace"' in answer
    assert '"totalCount": 1' in answer
    # and nothing was fetched from anywhere but this server (no CDN)
    assert outside == []
    # ... every asset loaded, and the page logged no error
    assert failed == []
    assert console_errors == []
