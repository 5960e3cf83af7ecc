"""The HTTP API: a FastAPI app built by ``create_app(settings)``."""

from billable.server.app import create_app
from billable.server.settings import Settings

__all__ = ["Settings", "create_app"]
