"""``billable.server.asgi:app``: the app configured from ``BILLABLE_*`` variables, for uvicorn.

``kill -USR1`` on a server process writes the stack of each of its threads to its standard
error: what a process that seems stuck is doing (docs/operating.md)."""

import faulthandler
import signal

from billable.server.app import create_app

faulthandler.register(signal.SIGUSR1, all_threads=True)
app = create_app()
