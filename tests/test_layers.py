"""Imports go one way (docs/architecture.md): rules <- store <- service <- wire <- server, cli;
the edges (server/, cli.py) call the service, write its answers with the wire and import
nothing of the store; the service knows nothing of the wire; the SDK (client/) imports
none of them. Read from the source, not from what happens to load."""

from __future__ import annotations

import ast
from pathlib import Path

import billable

PACKAGE = Path(billable.__file__).parent
# What each layer may import of billable, besides itself.
MAY_IMPORT = {
    "rules": set(),
    "store": {"rules"},
    "service": {"rules", "store"},
    "wire": {"rules", "service"},
    "server": {"rules", "service", "wire"},
    "cli": {"rules", "service", "wire", "client", "generator", "serving"},
    "generator": {"rules"},
    "serving": set(),  # the server's processes, given the app by its import string
    "client": set(),
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "billable" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_go_one_way_and_the_edges_import_no_store() -> None:
    wrong = {}
    modules = [path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts and path.stem != "__init__"]
    for path in modules:
        layer = layer_of(path)
        if layer not in MAY_IMPORT:
            continue
        beyond = imported_layers(path) - MAY_IMPORT[layer] - {layer}
        if beyond:
            wrong[str(path.relative_to(PACKAGE))] = sorted(beyond)
    assert len(modules) > 60 and wrong == {}
