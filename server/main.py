"""ASGI entry point for uvicorn (`server.main:app`)."""

from server.app import create_app
from server.logs import configure_logging
from server.settings import get_settings

configure_logging(get_settings().app.log_level)
app = create_app()
