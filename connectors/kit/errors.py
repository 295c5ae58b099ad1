"""Vendor errors as data: a table of rows, each matching a failure and naming the connector
error it becomes (`connectors.errors`), with the message to raise.

A connector describes its vendor's failures as `Fault`s (the exception, the HTTP status, the
vendor's own error code, a short detail) and keeps one `ErrorTable`; the first row that
matches wins, so specific rows (a code) go before general ones (a status, a base class).
Messages are `str.format` templates over the fault's fields (`{what}`, `{status}`, `{code}`,
`{detail}`, `{kind}`, plus the table's own `fields`, e.g. `{name}` for the connector), so a
row says in words which setting to fix. A test proves every row is reached by a case
(`ErrorTable.match` answers the row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pmo_ledger.connectors.errors import ConnectorError, ConnectorTransientError


@dataclass(frozen=True, slots=True)
class Fault:
    """One failure as a table sees it. `exception`: what was raised (None for an answer that
    carries an error, e.g. a 200 with an `error` body); `status`: the HTTP status, if any;
    `code`: the vendor's error code or class; `detail`: text for the message; `retry_at`:
    when the source said to come back (a `Retry-After`)."""

    exception: BaseException | None = None
    status: int | None = None
    code: str | None = None
    detail: str = ""
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """One row: what it matches (every field set must match) and what it becomes.

    `exception`: an instance of this class (or tuple of classes); `status`: this HTTP status
    or one in this range; `code`: this vendor code. `error`: the ConnectorError class raised,
    `message`: its template; `retry_in`: a transient error's `retry_at` is now + this when the
    fault does not say."""

    error: type[ConnectorError]
    message: str
    exception: type[BaseException] | tuple[type[BaseException], ...] | None = None
    status: int | range | None = None
    code: str | None = None
    retry_in: timedelta | None = None

    def matches(self, fault: Fault) -> bool:
        if self.exception is not None and not isinstance(fault.exception, self.exception):
            return False
        if isinstance(self.status, int) and fault.status != self.status:
            return False
        if isinstance(self.status, range) and (
            fault.status is None or fault.status not in self.status
        ):
            return False
        return self.code is None or fault.code == self.code


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ErrorTable:
    """The rows of one connector, tried in order. `fields`: extra template fields;
    `clock`: the time `retry_in` counts from (injectable in tests)."""

    rows: tuple[ErrorRule, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = _now

    def match(self, fault: Fault) -> ErrorRule | None:
        """The first row that matches, or None."""
        return next((row for row in self.rows if row.matches(fault)), None)

    def error(self, fault: Fault, what: str) -> ConnectorError | None:
        """The connector error for `fault` met while doing `what`; None when no row matches."""
        row = self.match(fault)
        if row is None:
            return None
        kind = type(fault.exception).__name__ if fault.exception is not None else ""
        text = row.message.format(
            **self.fields,
            what=what,
            status=fault.status,
            code=fault.code or "",
            detail=fault.detail,
            kind=kind,
        )
        if issubclass(row.error, ConnectorTransientError):
            retry_at = fault.retry_at
            if retry_at is None and row.retry_in is not None:
                retry_at = self.clock() + row.retry_in
            return row.error(text, retry_at=retry_at)
        return row.error(text)

    def with_fields(self, **fields: Any) -> ErrorTable:
        """The same rows with more template fields (e.g. the connector's name)."""
        return ErrorTable(self.rows, {**self.fields, **fields}, self.clock)
