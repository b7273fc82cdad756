"""Plain-text and HTML bodies from Jinja2 templates (`templates/<name>.txt` and `.html`).

HTML templates autoescape everything they are given (names, companies, comments come from users);
text templates are plain text and never rendered as HTML. A missing variable is an error, not an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("integrations.email", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # package files: loaded once, not checked on disk for every email
    )


def render(name: str, **context: Any) -> tuple[str, str]:
    """(text, html) of the template pair `name`."""
    env = environment()
    return env.get_template(f"{name}.txt").render(**context), env.get_template(f"{name}.html").render(**context)


def one_line(value: str, *, limit: int = 200) -> str:
    """A value safe for an email header: no line breaks, bounded length."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
