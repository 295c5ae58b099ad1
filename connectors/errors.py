"""Errors a connector raises for a whole read, typed by what the caller must do.

    ConnectorError
     |- ConnectorConfigError     bad settings, 401/403 after re-login -> stop it, alert
     |   |- StreamConfigError    one stream's object or field is wrong -> stop that stream
     |- ConnectorTransientError  429, 5xx, network, API quota         -> keep cursor, retry,
     |   |                                                               the run stops
     |   |- StreamTransientError one stream's query ran too long      -> keep its cursor, retry
     |                                                                   it; the others go on
     |- SourceError              the source answered with an error    -> fail the run

A single bad row is never an exception: it travels in the page as `rejected` and lands in
quarantine. Vendor exceptions are translated in one place per connector (`raise ... from exc`).
"""

from __future__ import annotations

from datetime import datetime


class ConnectorError(Exception):
    """Base of every error a connector raises for a whole read."""


class ConnectorConfigError(ConnectorError):
    """The connector cannot work as configured (bad settings, credentials refused)."""


class StreamConfigError(ConnectorConfigError):
    """One stream cannot be read as configured (its object or a field it needs is not in the
    source): that stream stops, the others go on. The message names the stream and the fix."""


class ConnectorTransientError(ConnectorError):
    """Try again later: the checkpoint stays where it is. `retry_at` when the source said."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class StreamTransientError(ConnectorTransientError):
    """Try this one stream again later: its query ran too long at the source. The rest of the
    source answers, so the run commits what the stream read, records it `partial` with its
    `retry_at` and goes on with the other streams; the message names the stream's query."""


class SourceError(ConnectorError):
    """The source answered with an error the connector cannot recover from."""
