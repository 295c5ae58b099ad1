"""The worked example of docs/connectors/writing-a-connector.md: a connector (`kind = "hours"`)
for a small REST source of timesheet hours, built on the connector kit. The doc quotes this
file and a test checks that every quote is still in it, so the doc cannot drift from code
that runs (tests/connectors/kit/test_example.py reads a real local server with it).

The source: `GET /api/hours?$$FIRST=<skip>&$$LIMIT=<n>[&since=<ISO time>]` answers
`{"data": [row, ...]}` sorted by (`updated`, `ID`); an error is `{"error": {"class": ...,
"message": ...}}`, sometimes with HTTP 200 (as Workfront does). The API key travels in the
`apiKey` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Page,
    ReadRequest,
    StreamSpec,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.errors import ErrorRule
from pmo_ledger.connectors.kit.http import HttpClient, RetryPolicy
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, scoped
from pmo_ledger.ledger.records import ActualRecord, Rejected


# --- settings ---------------------------------------------------------------------------
class HoursSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "hours"` connector."""

    base_url: str
    api_key: SecretStr
    ca_bundle: Path | None = None
    page_size: int = Field(default=500, ge=1, le=2000)
    max_attempts: int = Field(default=4, ge=1, le=10)


# --- streams ----------------------------------------------------------------------------
STREAMS = {
    "actuals": StreamSpec("actuals", "timestamp", "actual", "<hour ID>", counts="every hour entry"),
}


# --- the vendor's errors ----------------------------------------------------------------
def vendor_error(response: httpx.Response) -> tuple[str, str] | None:
    """The source's error body at any status: (its exception class, its message)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return str(error.get("class", "")).rsplit(".", 1)[-1], str(error.get("message", ""))


#: Tried before the kit's HTTP_ERRORS (timeouts, 429, 401, 5xx ... are already there).
ERRORS = (
    ErrorRule(
        ConnectorConfigError,
        "{what}: the source refused the API key ({detail}): set connectors.{name}.api_key",
        code="AuthenticationException",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the source refused the page size ({detail}): lower connectors.{name}.page_size",
        code="IllegalArgumentException",
    ),
)


# --- the connector ----------------------------------------------------------------------
class HoursConnector(Connector):
    """Timesheet hours as actuals, read in (`updated`, `ID`) order."""

    kind: ClassVar[str] = "hours"
    settings_model = HoursSettings
    streams = STREAMS
    example_settings: ClassVar[dict[str, Any]] = {
        "base_url": "https://hours.example.com",
        "api_key": "key",
    }

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, HoursSettings):
            raise ConnectorConfigError(f"{context.name}: expected HoursSettings")
        super().__init__(settings, context)
        self.config = settings
        self.http = HttpClient(
            settings.base_url,
            name=context.name,
            errors=ERRORS,
            connect_timeout=context.connect_timeout.total_seconds(),
            read_timeout=context.read_timeout.total_seconds(),
            ca_bundle=settings.ca_bundle,
            retry=RetryPolicy(attempts=settings.max_attempts),
            vendor_error=vendor_error,
            headers={"apiKey": settings.api_key.get_secret_value()},
        )

    def check(self) -> None:
        self.http.get_json("/api/hours", params={"$$LIMIT": 1}, what=f"{self.name} check")

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """A full read (no cursor) as one scope, so rows the source no longer lists are
        reversed; an incremental read from the cursor. Checkpoints come from the kit."""
        if stream not in self.streams:
            raise ConnectorConfigError(f"{self.name} has no stream {stream!r}")
        if request.scope is not None:
            raise ConnectorConfigError(f"stream {stream} cannot re-sync scope {request.scope}")
        since = request.cursor.value if request.cursor is not None else None
        if since is not None and not isinstance(since, datetime):
            raise ConnectorConfigError(f"stream {stream} reads from a timestamp cursor")
        pages = ordered_pages(self._items(since), self.config.page_size)
        return pages if since is not None else scoped(stream, pages)

    def _items(self, since: datetime | None) -> Iterator[Item]:
        """Every row from `since` on, one source page at a time ($$FIRST / $$LIMIT)."""
        size, first = self.config.page_size, 0
        while True:
            params: dict[str, Any] = {"$$FIRST": first, "$$LIMIT": size}
            if since is not None:
                params["since"] = since.isoformat()
            what = f"{self.name}.actuals rows {first}-{first + size - 1}"
            rows = self.http.get_json("/api/hours", params=params, what=what)["data"]
            yield from (self._item(row) for row in rows)
            if len(rows) < size:
                return
            first += size

    def _item(self, row: dict[str, Any]) -> Item:
        """A row as an actual, or as a rejected row at its place in the order."""
        at = datetime.fromisoformat(row["updated"])
        try:
            return ActualRecord(
                external_id=row["ID"],
                project_ref=row["project"],
                posted_on=date.fromisoformat(row["date"]),
                cost_type="labor",
                hours=Decimal(row["hours"]),
                amount=Decimal(row["amount"]),
                currency=row["currency"],
                source_modified_at=at,
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            return Marked(at, Rejected(row.get("ID"), "unreadable_row", {"error": str(exc)}))

    def close(self) -> None:
        self.http.close()
