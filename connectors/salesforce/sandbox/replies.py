"""What the sandbox answers, before it goes on the socket, and the request as it came in.

REST errors are what Salesforce sends: a JSON *list* of `{"message", "errorCode"}` objects.
simple-salesforce reads `result.json()[0]["errorCode"]` on a 401, so any other shape breaks
its re-login path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pmo_ledger.connectors.salesforce.sandbox.values import dumps

JSON = "application/json;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: path without query, decoded query parameters, headers with
    lower-case names, the body."""

    method: str
    path: str
    params: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.params.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer written with Salesforce's number tokens."""
    return Reply(status, JSON, dumps(payload), dict(headers or {}))


def error_reply(status: int, code: str, message: str) -> Reply:
    """A REST error: `[{"message": ..., "errorCode": ...}]`."""
    return json_reply(status, [{"message": message, "errorCode": code}])


def not_found() -> Reply:
    return error_reply(404, "NOT_FOUND", "The requested resource does not exist")
