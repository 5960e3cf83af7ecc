"""The API reference (docs/api-reference.md), written from the OpenAPI document the server
serves, so that the two never differ (tests/test_reference.py).

    python -m billable.server.reference > docs/api-reference.md
"""

from __future__ import annotations

import tempfile
from typing import Any

from billable.server.app import create_app
from billable.server.settings import Settings

HEADER = """# API reference

Every route of the service, written from the OpenAPI document it serves (`/openapi.json`;
browse it at `/docs` or `/redoc`). Regenerate this page with
`python -m billable.server.reference > docs/api-reference.md`; a test fails when it is out
of step. Authentication: `POST /oauth/token` with HTTP Basic `client_id:client_secret`
gives a bearer token; every other route takes `Authorization: Bearer <token>`. Errors
come in one body (`ErrorBody`) whatever the route.
"""


def _type(schema: dict[str, Any]) -> str:
    """A schema's type in a few words: a name for a reference, the options of a union."""
    if "$ref" in schema:
        return f"[{schema['$ref'].rsplit('/', 1)[1]}](#{schema['$ref'].rsplit('/', 1)[1].lower()})"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(dict.fromkeys(_type(option) for option in schema.get("anyOf", schema.get("oneOf", []))))
    if "enum" in schema:
        return ", ".join(f"`{value}`" for value in schema["enum"])
    if "type" in schema.get("properties", {}):  # an event of the ingestion body: named by its type
        return f"{_type(schema['properties']['type'])} event"
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "const" in schema:
        return f"`{schema['const']}`"
    return str(schema.get("type", "any"))


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} `{path}`", ""]
    description = operation.get("description") or operation.get("summary") or ""
    lines += [" ".join(description.split()), ""]
    security = [name for requirement in operation.get("security", []) for name in requirement]
    if security:
        lines += [f"Authentication: {', '.join(security)}.", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | required | type | description |", "|---|---|---|---|---|"]
        lines += [f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                  f"{_cell(_type(p.get('schema', {})))} | {_cell(p.get('description'))} |" for p in parameters]
        lines.append("")
    body = operation.get("requestBody")
    if body:
        kinds = ", ".join(f"`{media}` ({_type(content.get('schema', {}))})" for media, content in body["content"].items())
        lines += [f"Body: {kinds}.", ""]
    lines += ["| answer | body | meaning |", "|---|---|---|"]
    for status, answer in operation.get("responses", {}).items():
        content: dict[str, Any] = next(iter(answer.get("content", {}).values()), {})
        schema = content.get("schema", {})
        lines.append(f"| {status} | {_cell(_type(schema)) if schema else ''} | {_cell(answer.get('description'))} |")
    return lines + [""]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        lines += ["| field | type | required | description |", "|---|---|---|---|"]
        lines += [f"| `{field}` | {_cell(_type(inner))} | {'yes' if field in required else 'no'} | "
                  f"{_cell(inner.get('description'))} |" for field, inner in properties.items()]
        lines.append("")
    return lines


def reference(document: dict[str, Any]) -> str:
    """The API reference of an OpenAPI document, as Markdown."""
    lines = [HEADER, "## Routes", ""]
    for path, operations in sorted(document["paths"].items()):
        for method, operation in operations.items():
            lines += _operation(method, path, operation)
    lines += ["## Bodies", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def served_document() -> dict[str, Any]:
    """The OpenAPI document of a server with the default settings and catalog."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(database_url=f"sqlite:///{folder}/reference.db"))
        return app.openapi()


if __name__ == "__main__":
    print(reference(served_document()), end="")
