"""The server's own shapes for the OpenAPI document: the login, health, the ingestion body's
schema. The report bodies are defined in billable.service.bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from billable.rules.catalog import Catalog
from billable.rules.events import EVENTS, MAX_TEXT, DataField, EventContract, EventType


class Health(BaseModel):
    status: Literal["UP"]


class TokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    scope: str = Field(description="the permissions the token holds, space-separated (RFC 6749, 5.1)")


class OAuthError(BaseModel):
    error: str
    description: str
    error_description: str


def event_batch_schema(catalog: Catalog, max_events: int, contract: EventContract = EVENTS) -> dict[str, Any]:
    """The JSON schema of an ingestion body, as precise as the validation (but for the
    rule that a time may not be later than now plus 5 minutes), from the event contract."""
    text = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"}

    def field_schema(field: DataField, required: bool) -> dict[str, Any]:
        if field.catalog_names is not None:
            return {"type": "string", "enum": list(field.catalog_names(catalog))}
        given = {"type": "string", "minLength": 1, "maxLength": field.max_length, "pattern": r"\S"}
        return given if required else {"anyOf": [given, {"type": "null"}]}

    def variant(kind: EventType) -> dict[str, Any]:
        data = {field.name: field_schema(field, field in kind.required) for field in kind.fields}
        required = [field.name for field in kind.required]
        return {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "time", "subject", *(["data"] if required else [])],
            "properties": {
                "specversion": {"type": "string", "enum": ["1.0"]},
                "id": text,
                "source": text,
                "type": {"type": "string", "enum": [kind.name]},
                "time": {"type": "string", "format": "date-time",
                         "description": "RFC 3339; not later than now plus 5 minutes"},
                "subject": text,
                "data": {"type": "object", "properties": data, "required": required},
            },
        }

    return {"type": "array", "maxItems": max_events, "items": {"oneOf": [variant(kind) for kind in contract.types]}}
