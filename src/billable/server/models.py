"""Response shapes, for the OpenAPI document (bodies are written by billable.service.presentation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BillingUsageResource(BaseModel):
    name: str = Field(description="the user's display name (latest email, else user id) or the device id")
    date: str = Field(description="first billable instant in the period, yyyy-MM-ddTHH:mm:ss.SSSZ", examples=["2026-10-02T08:00:00.000Z"])


class BillingUsage(BaseModel):
    name: str = Field(description="product or device type", examples=["cx3"])
    totalUsage: str = Field(description="an integer, or hours with two decimals under the hourly model", examples=["2"])
    resources: list[BillingUsageResource]


class BillingUsageReport(BaseModel):
    id: str
    name: str
    startDate: str = Field(examples=["2026-10-01T00:00:00.000Z"])
    endDate: str = Field(examples=["2026-11-01T00:00:00.000Z"])
    status: Literal["InProgress", "Complete"] = Field(description="InProgress: repeat the same request later")
    usages: list[BillingUsage]
    selfUri: str


class IngestionResult(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events whose (source, id) was already stored, or repeated in the batch")


class TokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class OAuthError(BaseModel):
    error: str
    description: str
    error_description: str
