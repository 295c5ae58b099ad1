"""The kit's error table: first match wins, templates name the fix, retry_at comes from the
source or the row; and every row of the shared HTTP table is reached by a case below."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule, ErrorTable, Fault
from pmo_ledger.connectors.kit.http import HTTP_ERRORS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HTTP = ErrorTable(HTTP_ERRORS, {"name": "wf"}, lambda: NOW)

#: (fault, error class, message) for each row of HTTP_ERRORS, in the table's order.
HTTP_CASES: list[tuple[Fault, type[ConnectorError], str]] = [
    (
        Fault(ssl.SSLCertVerificationError("self-signed"), detail="self-signed"),
        ConnectorConfigError,
        "GET /x: TLS verification failed (self-signed): set connectors.wf.ca_bundle to the PEM "
        "file of the CA that signs the host (a corporate proxy's, or the sandbox's)",
    ),
    (
        Fault(httpx.ReadTimeout("timed out"), detail="timed out"),
        ConnectorTransientError,
        "GET /x: no answer in time (ReadTimeout); the source is slow or unreachable",
    ),
    (
        Fault(httpx.ConnectError("refused"), detail="refused"),
        ConnectorTransientError,
        "GET /x: ConnectError: refused",
    ),
    (
        Fault(status=429),
        ConnectorTransientError,
        "GET /x: the source limits the rate of calls (429)",
    ),
    (
        Fault(status=401, detail="bad session"),
        ConnectorConfigError,
        "GET /x: the source refused the credentials (401 bad session): check the credentials "
        "of connectors.wf",
    ),
    (
        Fault(status=403, detail="no"),
        ConnectorConfigError,
        "GET /x: the source refused the request (403 no): check the permissions of the user "
        "that connectors.wf logs in as",
    ),
    (Fault(status=502), ConnectorTransientError, "GET /x: the source answered 502"),
    (
        Fault(status=422, detail="Invalid Parameter"),
        SourceError,
        "GET /x: the source answered 422: Invalid Parameter",
    ),
    (
        Fault(ValueError("Expecting value"), detail="Expecting value"),
        SourceError,
        "GET /x: unreadable answer (ValueError: Expecting value)",
    ),
    (
        Fault(status=200, code="AuthenticationException", detail="expired"),
        SourceError,
        "GET /x: the source answered an error: AuthenticationException: expired",
    ),
]


@pytest.mark.parametrize(("fault", "kind", "message"), HTTP_CASES)
def test_each_http_case(fault: Fault, kind: type[ConnectorError], message: str) -> None:
    error = HTTP.error(fault, "GET /x")
    assert type(error) is kind
    assert str(error) == message


def test_every_http_row_is_reached_by_a_case() -> None:
    """Each case lands on its own row and together they reach every row of HTTP_ERRORS."""
    assert [HTTP.match(fault) for fault, _, _ in HTTP_CASES] == list(HTTP_ERRORS)


def test_retry_at_comes_from_the_source_else_from_the_row() -> None:
    said = NOW + timedelta(seconds=30)
    assert HTTP.error(Fault(status=429, retry_at=said), "x").retry_at == said  # type: ignore[union-attr]
    assert HTTP.error(Fault(status=429), "x").retry_at == NOW + timedelta(minutes=1)  # type: ignore[union-attr]
    assert HTTP.error(Fault(status=503), "x").retry_at is None  # type: ignore[union-attr]


def test_first_match_wins_and_rows_match_on_every_field_they_set() -> None:
    """A vendor row (code at a status) before a general one; an unmatched fault gives None."""
    table = ErrorTable(
        (
            ErrorRule(
                StreamConfigError,
                "{what}: no field {detail}: set connectors.{name}.streams.{stream}.fields",
                status=422,
                code="InvalidField",
            ),
            ErrorRule(SourceError, "{what}: {status}", status=range(400, 500)),
        ),
        {"name": "wf", "stream": "actuals"},
    )
    named = table.error(Fault(status=422, code="InvalidField", detail="hoursX"), "q")
    assert type(named) is StreamConfigError
    assert str(named) == "q: no field hoursX: set connectors.wf.streams.actuals.fields"
    assert type(table.error(Fault(status=422, code="Other"), "q")) is SourceError
    assert table.error(Fault(status=500), "q") is None
    assert table.with_fields(stream="budgets").fields == {"name": "wf", "stream": "budgets"}
