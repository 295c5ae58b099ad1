"""The Salesforce client's one error table (`connectors.salesforce.client.translate`): every
errorCode its docstring names maps to the error class it says, and the docstring names every
code the table handles (issue 16, item 4, after review)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
    StreamTransientError,
)
from pmo_ledger.connectors.salesforce import client
from pmo_ledger.connectors.salesforce.client import translate

URL = "https://org.example.com/services/data/v59.0/query/"

#: Each errorCode of a 400 (and the 403 one) -> the error the connector raises for it.
BY_CODE: dict[str, type[Exception]] = {
    "INVALID_QUERY_LOCATOR": ConnectorTransientError,
    "QUERY_TIMEOUT": StreamTransientError,
    "REQUEST_RUNNING_TOO_LONG": StreamTransientError,
    "INVALID_FIELD": StreamConfigError,
    "INVALID_TYPE": StreamConfigError,
    "MALFORMED_QUERY": StreamConfigError,
    "INVALID_QUERY_FILTER_OPERATOR": StreamConfigError,
    "INVALID_FIELD_FOR_INSERT_UPDATE": StreamConfigError,
    "REQUEST_LIMIT_EXCEEDED": ConnectorTransientError,
}


def answer(kind: type[Exception], status: int, code: str, message: str = "said") -> Exception:
    return kind(URL, status, "query", [{"errorCode": code, "message": message}])


def documented_codes() -> set[str]:
    """The errorCodes the client's module docstring names in its error table."""
    doc = client.__doc__ or ""
    table = doc[doc.index("Errors (the one translation table") :]
    return set(re.findall(r"\b[A-Z]+(?:_[A-Z]+)+\b", table))


def test_the_docstring_names_every_code_the_table_handles() -> None:
    """The table in the docstring and the one in the code name the same errorCodes."""
    assert documented_codes() == set(BY_CODE)
    handled = client.STREAM_CONFIG_CODES | client.BUSY_CODES
    assert handled | {"INVALID_QUERY_LOCATOR", "REQUEST_LIMIT_EXCEEDED"} == set(BY_CODE)


@pytest.mark.parametrize("code", sorted(c for c in BY_CODE if c != "REQUEST_LIMIT_EXCEEDED"))
def test_each_400_code_maps_as_documented(code: str) -> None:
    """A 400 with this errorCode becomes the documented error (StreamConfigError is checked
    before its parent, ConnectorConfigError, by exact type)."""
    error = translate(answer(SalesforceMalformedRequest, 400, code), "query")
    assert type(error) is BY_CODE[code]


@pytest.mark.parametrize("code", ["QUERY_TIMEOUT", "REQUEST_RUNNING_TOO_LONG"])
def test_a_query_the_org_stopped_for_time_is_retried_in_ten_minutes(code: str) -> None:
    """QUERY_TIMEOUT is not the stream's configuration: the read stops with a retry time, so
    a full read keeps its position and goes on in the next run."""
    before = datetime.now(UTC)
    error = translate(
        answer(
            SalesforceMalformedRequest, 400, code, "Your query request was running for too long."
        ),
        "query_more",
    )
    assert isinstance(error, ConnectorTransientError)
    assert str(error) == (
        "query_more: Salesforce stopped a query that ran too long "
        f"({code}: Your query request was running for too long.)"
    )
    assert error.retry_at is not None
    assert (
        before + timedelta(minutes=10)
        <= error.retry_at
        <= datetime.now(UTC) + timedelta(minutes=10)
    )


def test_an_unknown_400_is_a_source_error() -> None:
    """A 400 whose code names no field, object or time limit is the source's error, not the
    stream's configuration."""
    error = translate(
        answer(
            SalesforceMalformedRequest, 400, "QUERY_TOO_COMPLICATED", "Query is too complicated"
        ),
        "query",
    )
    assert type(error) is SourceError
    assert (
        str(error)
        == "query: Salesforce answered 400: QUERY_TOO_COMPLICATED: Query is too complicated"
    )


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (SalesforceAuthenticationFailed("INVALID_LOGIN", "bad password"), ConnectorConfigError),
        (answer(SalesforceExpiredSession, 401, "INVALID_SESSION_ID"), ConnectorConfigError),
        (answer(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"), ConnectorTransientError),
        (answer(SalesforceRefusedRequest, 403, "INSUFFICIENT_ACCESS"), ConnectorConfigError),
        (answer(SalesforceResourceNotFound, 404, "NOT_FOUND"), SourceError),
        (answer(SalesforceMoreThanOneRecord, 300, ""), SourceError),
        (answer(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"), ConnectorTransientError),
        (answer(SalesforceGeneralError, 405, "METHOD_NOT_ALLOWED"), SourceError),
        (requests.exceptions.SSLError("certificate verify failed"), ConnectorConfigError),
        (requests.ReadTimeout("read timed out"), ConnectorTransientError),
        (requests.ConnectionError("refused"), ConnectorTransientError),
        (ValueError("not JSON"), SourceError),
    ],
)
def test_every_other_row_of_the_table(raised: Exception, expected: type[Exception]) -> None:
    """The other rows: login, session, refusals, not found, 5xx, transport."""
    assert type(translate(raised, "call")) is expected
