"""docs/api-reference.md is the reference of the document the server serves, in step with it."""

from __future__ import annotations

from pathlib import Path

from conftest import MakeClient

from billable.server.reference import reference, served_document

PAGE = Path(__file__).parent.parent / "docs" / "api-reference.md"


def test_the_api_reference_is_written_from_the_served_document(make_client: MakeClient) -> None:
    served = make_client().get("/openapi.json").json()
    assert served == served_document()
    written = PAGE.read_text()
    assert written == reference(served), "run: python -m billable.server.reference > docs/api-reference.md"
    # Every route and every body is in it.
    for path, operations in served["paths"].items():
        for method in operations:
            assert f"### {method.upper()} `{path}`" in written
    assert all(f"### {name}\n" in written for name in served["components"]["schemas"])
