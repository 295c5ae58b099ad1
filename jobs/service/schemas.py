"""Request and response bodies of the HTTP API (they make its OpenAPI spec)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error: what went wrong, in one line."""

    detail: str


class Conflict(Problem):
    """The connector cannot start now: a sync of it is running (`reason` "running", its run
    id, None while it is starting), or it is disabled (`reason` "disabled", no run id)."""

    run_id: int | None
    reason: Literal["running", "disabled"]


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


class VariancePage(BaseModel):
    """A page of `GET /variances`: its rows and how many rows the filters match in all."""

    items: list[VarianceOut]
    total: int = Field(description="Variances the filters match, over every page.")
    limit: int
    offset: int


class VarianceEventOut(BaseModel):
    """One step of a variance's life (`variance_event`)."""

    id: int
    event: Literal[
        "opened", "updated", "escalated", "acknowledged", "resolved", "reopened", "carried"
    ]
    at: datetime
    severity: str = Field(description="The severity after the event.")
    status: Literal["open", "acknowledged", "resolved"] = Field(
        description="The status after the event."
    )
    acknowledged_by: str | None
    note: str | None = Field(
        description="The note of an acknowledgement, or the variance carried to or from."
    )
    reconcile_run_id: int | None = Field(
        description="The live reconcile that made the step (numbered over the runs that wrote "
        "events); null for an acknowledgement and a reconstructed event."
    )
    reconstructed: bool = Field(
        description="Rebuilt at the upgrade to migration 0015 from the variance's own "
        "timestamps (with its severity then)."
    )


class VarianceHistoryOut(BaseModel):
    """`GET /variances/{id}/history`: the variance's events, oldest first."""

    variance_id: int
    status: Literal["open", "acknowledged", "resolved"]
    reopened_count: int = Field(
        description="Reopens in all; those before migration 0015 have no event."
    )
    events: list[VarianceEventOut]


#: Characters a note may not consist of only: NUL, the other controls and every character
#: Python's `str.isspace` takes for blank. The spec's pattern and the validator use the same
#: class, so what the spec calls valid the API accepts (schemathesis checks it).
BLANK = "\\x00-\\x20\\x7f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
TEXT_NOT_BLANK = rf"^[^\x00]*[^{BLANK}][^\x00]*$"
_SPEC: dict[str, JsonValue] = {"pattern": TEXT_NOT_BLANK}


class AckRequest(_Body):
    note: str = Field(
        min_length=1,
        max_length=2000,
        description="Why it is known and accepted.",
        json_schema_extra=_SPEC,
    )
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Who acknowledges it.",
        json_schema_extra=_SPEC,
    )

    @field_validator("note", "by")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        if value is not None and not re.search(f"[^{BLANK}]", value):
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None
