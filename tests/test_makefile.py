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


def _commands(target: str, tmp_path: Path) -> list[str]:
    """What ``make TARGET`` runs in a fresh clone (dry run, a virtual environment not made yet)."""
    done = subprocess.run(["make", "-n", "-f", str(MAKEFILE), target, f"VENV={tmp_path / 'venv'}"],
                          cwd=MAKEFILE.parent, check=True, capture_output=True, text=True)
    return done.stdout.splitlines()


def test_running_installs_the_runtime_alone_and_the_tests_add_their_tools(tmp_path: Path) -> None:
    installs = [line for line in _commands("run", tmp_path) if "pip install" in line and " -e " in line]
    assert installs and all("'.[server]'" in line for line in installs), installs
    tested = [line for line in _commands("test", tmp_path) if "pip install" in line and " -e " in line]
    assert any("test]'" in line for line in tested), tested
