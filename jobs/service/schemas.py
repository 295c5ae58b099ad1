"""Request and response bodies of the HTTP API (they make its OpenAPI spec)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error: what went wrong, in one line."""

    detail: str


class Conflict(Problem):
    """A sync of the connector is running: its run id (None while it is starting)."""

    run_id: int | None


class Health(BaseModel):
    status: Literal["ok"]
    scheduler: Literal["running", "stopped"]
    running_runs: list[int]


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    database: Literal["reachable", "unreachable"]
    schema_current: bool
    detail: str | None = None


class StreamOut(BaseModel):
    stream: str
    status: str
    rows_read: int
    rows_written: int
    rows_unchanged: int
    rows_quarantined: int
    rows_deleted: int
    #: Per outcome ("read", "inserted", ...) and currency: exact decimal amounts as strings.
    amounts: dict[str, dict[str, str]] | None
    checkpoint: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunOut(BaseModel):
    id: int
    connector: str
    status: str
    trigger: str
    options: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None
    retry_at: datetime | None
    message: str | None


class RunDetail(RunOut):
    streams: list[StreamOut]


class SyncRequest(_Body):
    """Optional body of `POST /syncs/{connector}`."""

    full: bool = Field(default=False, description="Read every stream from the start.")
    since: date | None = Field(default=None, description="Read from this date.")


class SyncStarted(BaseModel):
    run_id: int
    connector: str
    status: Literal["running"]
    url: str = Field(description="Where to follow the run.")


class VarianceOut(BaseModel):
    id: int
    rule: str
    subject_type: str
    subject_id: str
    dimension: str
    period: str
    severity: str
    status: Literal["open", "acknowledged", "resolved"]
    message: str | None
    measures: dict[str, Any] | None
    thresholds: dict[str, Any] | None
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    escalated_at: datetime | None
    reopened_count: int
    note: str | None


#: What the spec says of a text without NUL (the validator below refuses it with its own
#: message; without the pattern in the spec a client, or schemathesis, takes NUL as valid).
NO_NUL = {"pattern": r"^[^\x00]*$"}


class AckRequest(_Body):
    note: str = Field(
        min_length=1,
        max_length=2000,
        description="Why it is known and accepted.",
        json_schema_extra=NO_NUL,
    )
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Who acknowledges it.",
        json_schema_extra=NO_NUL,
    )

    @field_validator("note", "by")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value.strip() if value is not None else None
