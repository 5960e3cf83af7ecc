"""The Makefile's own promises: `make clean` leaves nothing of a database the service made."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from billable.server import Settings, create_app

MAKEFILE = Path(__file__).parent.parent / "Makefile"


def test_clean_removes_every_file_of_the_default_database(tmp_path: Path) -> None:
    database = tmp_path / "billable.db"
    from test_cli import billable, ok

    ok(billable(f"sqlite:///{database}", "db", "upgrade"))
    with TestClient(create_app(Settings(database_url=f"sqlite:///{database}"))) as client:
        client.get("/health")
    made = sorted(path.name for path in tmp_path.iterdir())
    assert "billable.db" in made and len(made) > 1, made  # the database and the files beside it
    subprocess.run(["make", "-f", str(MAKEFILE), "clean", "VENV=no-such-venv"], cwd=tmp_path, check=True,
                   capture_output=True)
    assert list(tmp_path.iterdir()) == []
