"""``billable.server.asgi:app``: the app configured from ``BILLABLE_*`` variables, for uvicorn."""

from billable.server.app import create_app

app = create_app()
