"""Every row of the Salesforce error table (`connectors.salesforce.client.ERRORS`) is reached
by a case: a real simple-salesforce or requests exception, the error it becomes, and the
message."""

from __future__ import annotations

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
    StreamTransientError,
)
from pmo_ledger.connectors.salesforce.client import ERRORS, fault, translate

URL = "https://org.example.com/services/data/v59.0/query/"


def said(kind: type[SalesforceError], status: int, code: str) -> SalesforceError:
    return kind(URL, status, "query", [{"errorCode": code, "message": "said"}])


def bad_query(code: str) -> tuple[Exception, type[ConnectorError], str]:
    return (
        said(SalesforceMalformedRequest, 400, code),
        StreamConfigError,
        f"q: {code}: said (check the stream's object and field mapping and the permission "
        "set's field access)",
    )


def busy(code: str) -> tuple[Exception, type[ConnectorError], str]:
    return (
        said(SalesforceMalformedRequest, 400, code),
        StreamTransientError,
        f"q: Salesforce stopped a query that ran too long ({code}: said)",
    )


#: One case per row, in the table's order.
CASES: list[tuple[Exception, type[ConnectorError], str]] = [
    (
        SalesforceAuthenticationFailed("INVALID_LOGIN", "bad password"),
        ConnectorConfigError,
        "Salesforce refused the login: INVALID_LOGIN: bad password",
    ),
    (
        said(SalesforceExpiredSession, 401, "INVALID_SESSION_ID"),
        ConnectorConfigError,
        "q: the Salesforce session expired or is invalid (INVALID_SESSION_ID: said) and these "
        "credentials cannot log in again: renew the access token",
    ),
    (
        said(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"),
        ConnectorTransientError,
        "q: Salesforce API allowance exhausted (REQUEST_LIMIT_EXCEEDED: said)",
    ),
    (
        said(SalesforceRefusedRequest, 403, "INSUFFICIENT_ACCESS"),
        ConnectorConfigError,
        "q: Salesforce refused the request (INSUFFICIENT_ACCESS: said): check the integration "
        "user's permission set",
    ),
    (
        said(SalesforceMalformedRequest, 400, "INVALID_QUERY_LOCATOR"),
        ConnectorTransientError,
        "q: the query cursor expired (INVALID_QUERY_LOCATOR)",
    ),
    busy("QUERY_TIMEOUT"),
    busy("REQUEST_RUNNING_TOO_LONG"),
    bad_query("INVALID_FIELD"),
    bad_query("INVALID_FIELD_FOR_INSERT_UPDATE"),
    bad_query("INVALID_QUERY_FILTER_OPERATOR"),
    bad_query("INVALID_TYPE"),
    bad_query("MALFORMED_QUERY"),
    (
        said(SalesforceMalformedRequest, 400, "QUERY_TOO_COMPLICATED"),
        SourceError,
        "q: Salesforce answered 400: QUERY_TOO_COMPLICATED: said",
    ),
    (
        said(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"),
        ConnectorTransientError,
        "q: Salesforce answered 503",
    ),
    (
        said(SalesforceResourceNotFound, 404, "NOT_FOUND"),
        SourceError,
        "q: Salesforce answered 404: NOT_FOUND: said",
    ),
    (
        requests.exceptions.SSLError("certificate verify failed"),
        ConnectorConfigError,
        "q: TLS verification failed (certificate verify failed): set ca_bundle to the PEM file "
        "of the CA that signs the Salesforce host (a corporate proxy's, or the sandbox's)",
    ),
    (
        requests.ReadTimeout("read timed out"),
        ConnectorTransientError,
        "q: ReadTimeout: read timed out",
    ),
    (ValueError("not JSON"), SourceError, "q: ValueError: not JSON"),
]


def test_every_row_is_reached_by_a_case() -> None:
    """Case i lands on row i: each row is exercised, and in the order the table is tried."""
    assert [ERRORS.match(fault(exc)) for exc, _, _ in CASES] == list(ERRORS.rows)


def test_each_case_becomes_its_error_and_message() -> None:
    for exc, kind, message in CASES:
        error = translate(exc, "q")
        assert (type(error), str(error)) == (kind, message)


def test_an_exception_no_row_names_is_raised_as_it_is() -> None:
    error = KeyError("not a vendor failure")
    try:
        translate(error, "q")
    except KeyError as raised:
        assert raised is error
    else:
        raise AssertionError("translate returned for an unknown exception")
