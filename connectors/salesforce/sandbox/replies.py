"""What the sandbox answers, before it goes on the socket, and the request as it came in.

REST errors are what Salesforce sends: a JSON *list* of `{"message", "errorCode"}` objects.
simple-salesforce reads `result.json()[0]["errorCode"]` on a 401, so any other shape breaks
its re-login path.
"""

from __future__ import annotations

from pmo_ledger.connectors.kit.sandbox_https import Reply, Request
from pmo_ledger.connectors.salesforce.sandbox.values import dumps

__all__ = ["JSON", "Reply", "Request", "error_reply", "json_reply", "not_found"]

JSON = "application/json;charset=UTF-8"


def json_reply(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer written with Salesforce's number tokens."""
    return Reply(status, JSON, dumps(payload), dict(headers or {}))


def error_reply(status: int, code: str, message: str) -> Reply:
    """A REST error: `[{"message": ..., "errorCode": ...}]`."""
    return json_reply(status, [{"message": message, "errorCode": code}])


def not_found() -> Reply:
    return error_reply(404, "NOT_FOUND", "The requested resource does not exist")
