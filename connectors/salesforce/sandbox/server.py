"""The sandbox on HTTPS (`connectors.kit.sandbox_https`): the fake org's API in a background
thread for tests (`with SandboxServer(...) as server:`) or in the foreground for the CLI
(`serve_forever`), with the org's knobs (page size, API allowance, sessions, failures).

simple-salesforce always speaks https, so this is the only way the real client reaches the
fake org over a socket.
"""

from __future__ import annotations

from pathlib import Path

from pmo_ledger.connectors.kit.sandbox_https import HttpsSandbox
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.salesforce.sandbox.api import LoggedRequest, SandboxApi
from pmo_ledger.connectors.salesforce.sandbox.auth import (
    SANDBOX_APP,
    SANDBOX_USER,
    ConnectedApp,
    SandboxUser,
)
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg


class SandboxServer(HttpsSandbox):
    """A fake Salesforce org on `https://127.0.0.1:PORT` (port 0: any free one).

    `tls`: certificate files to use (tests share one set); else `cert_dir` (made there once and
    reused); else a temporary directory removed by `stop`.
    """

    def __init__(
        self,
        org: FakeOrg | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: SandboxUser = SANDBOX_USER,
        app: ConnectedApp = SANDBOX_APP,
        page_size: int = 2000,
        api_max: int = 100_000,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.org = org or FakeOrg()
        self.api = SandboxApi(self.org, user, app, page_size=page_size, api_max=api_max)
        self.user, self.app = user, app
        # The `Date` header tells the org's clock (clients judge getDeleted's window by it).
        super().__init__(self.api, self.org.now, host=host, port=port, tls=tls, cert_dir=cert_dir)

    @property
    def login_url(self) -> str:
        """The login URL and the instance URL are one host here."""
        return self.url

    @property
    def instance_url(self) -> str:
        return self.url

    # --- knobs ---------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        """Most records per query page (a client's batchSize can only lower it)."""
        return self.api.page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("page_size >= 1")
        self.api.page_size = size

    @property
    def bulk_polls_in_progress(self) -> int:
        """Status polls a Bulk job answers InProgress before JobComplete."""
        return self.api.jobs.polls_in_progress

    @bulk_polls_in_progress.setter
    def bulk_polls_in_progress(self, polls: int) -> None:
        self.api.jobs.polls_in_progress = polls

    def api_limit(self, maximum: int, *, used: int = 0, at_query_more: bool = False) -> None:
        """Set the daily API allowance (`Sforce-Limit-Info`, limits/, 403 when used up); with
        `at_query_more`, from the next call for a query's next page on."""
        self.api.api_limit(maximum, used=used, at_query_more=at_query_more)

    @property
    def api_usage(self) -> tuple[int, int]:
        """(used, max) of the daily API allowance."""
        return self.api.api_usage

    def expire_sessions(self) -> None:
        """Every access token in force becomes invalid (logging in again works)."""
        self.api.sessions.expire_all()

    def expire_after(self, calls: int) -> None:
        """The access tokens in force die after `calls` more REST calls."""
        self.api.sessions.expire_after(calls)

    def fail_next(
        self,
        calls: int = 1,
        *,
        status: int = 503,
        error_code: str | None = None,
        query_more: bool = False,
    ) -> None:
        """The next `calls` authenticated REST calls answer `status` (a JSON error list);
        with `query_more`, the next calls for a query's next page."""
        self.api.fail_next(calls, status=status, error_code=error_code, query_more=query_more)

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, oldest first."""
        return self.api.requests

    def clear_log(self) -> None:
        self.api.clear_log()
