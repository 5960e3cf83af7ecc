"""The server's own shapes for the OpenAPI document: the login, health, the ingestion body's
schema. The report bodies are defined in billable.service.bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from billable.rules.catalog import Catalog
from billable.rules.events import ASSIGNED, DEVICE_ACTIVE, LOGIN, LOGOUT, MAX_EMAIL, MAX_TEXT, UNASSIGNED, USER_UPDATED


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


def event_batch_schema(catalog: Catalog, max_events: int) -> dict[str, Any]:
    """The JSON schema of an ingestion body, as precise as the validation (but for the
    rule that a time may not be later than now plus 5 minutes)."""
    text = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"}
    email = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_EMAIL, "pattern": r"\S"}, {"type": "null"}]}
    products = {"type": "string", "enum": [p.name for p in catalog.user_products]}
    devices = {"type": "string", "enum": [d.name for d in catalog.device_types]}

    def variant(kind: str, data: dict[str, Any], required: list[str]) -> dict[str, Any]:
        data_schema = {"type": "object", "properties": data, "required": required}
        return {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "time", "subject", *(["data"] if required else [])],
            "properties": {
                "specversion": {"type": "string", "enum": ["1.0"]},
                "id": text,
                "source": text,
                "type": {"type": "string", "enum": [kind]},
                "time": {"type": "string", "format": "date-time",
                         "description": "RFC 3339; not later than now plus 5 minutes"},
                "subject": text,
                "data": data_schema,
            },
        }

    return {
        "type": "array",
        "maxItems": max_events,
        "items": {"oneOf": [
            variant(LOGIN, {"email": email}, []),
            variant(LOGOUT, {"email": email}, []),
            variant(ASSIGNED, {"product": products, "email": email}, ["product"]),
            variant(UNASSIGNED, {"product": products}, ["product"]),
            variant(DEVICE_ACTIVE, {"deviceType": devices}, ["deviceType"]),
            variant(USER_UPDATED, {"email": email["anyOf"][0]}, ["email"]),
        ]},
    }
