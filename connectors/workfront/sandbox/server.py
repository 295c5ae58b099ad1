"""The fake Workfront on HTTPS (`connectors.kit.sandbox_https`), with the handle a test
drives it by: mutations of hours and expenses, deletions of assignments and predecessors,
the journal switch, sessions, failures, and the count of calls per endpoint.

    with WorkfrontSandbox(store) as server:
        client = httpx.Client(base_url=server.api_url, verify=str(server.ca_file),
                              headers={"apiKey": server.user.api_key})
        client.get("HOUR/search", params={"$$LIMIT": 2000, "ID_Sort": "asc"})
        server.delete_hour(hour_id)                 # gone, and a JRNLE D entry
        server.fail_next(3, status=429, retry_after=1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pmo_ledger.connectors.kit.sandbox_https import HttpsSandbox
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox.api import (
    DEFAULT_VERSION,
    ApiUser,
    Fault,
    LoggedRequest,
    WorkfrontApi,
)
from pmo_ledger.connectors.workfront.sandbox.store import FakeWorkfront, Row
from pmo_ledger.connectors.workfront.sandbox.values import Value


class WorkfrontSandbox(HttpsSandbox):
    """A fake Workfront account on `https://127.0.0.1:PORT` (port 0: any free one).

    `session_ttl`: seconds a session lives unused; `seed`: the shuffle of unsorted searches.
    Wire variants a client should read too: `plain_dates` writes an hour's `entryDate` and an
    expense's `effectiveDate` as `2025-03-03`; `bare_aggregates` answers count and report
    without the `data` envelope (`{"count": 3}`, as api-basics.md prints them);
    `wall_clock_date` sends this machine's clock in the `Date` header, as any real server
    does, while the rows keep being stamped by the account's own clock;
    `api_key_param_only` reads the API key only as the `apiKey` parameter and
    `login_query_only` the login only from query parameters (as the docs show them);
    `documented_only` refuses the `in` modifier and reports with other than one `sum`,
    and answers no `null` group.
    """

    def __init__(
        self,
        store: FakeWorkfront | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: ApiUser | None = None,
        version: str = DEFAULT_VERSION,
        session_ttl: float = 1800.0,
        seed: int = 0,
        plain_dates: bool = False,
        bare_aggregates: bool = False,
        wall_clock_date: bool = False,
        api_key_param_only: bool = False,
        login_query_only: bool = False,
        documented_only: bool = False,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.store = store or FakeWorkfront()
        self.user = user or ApiUser()
        self.version = version
        self.api = WorkfrontApi(self.store, self.user, session_ttl=session_ttl, seed=seed)
        self.api.plain_dates, self.api.bare_aggregates = plain_dates, bare_aggregates
        self.api.api_key_param_only = api_key_param_only
        self.api.login_query_only = login_query_only
        self.api.documented_only = documented_only
        clock = _wall_clock if wall_clock_date else self.store.now
        super().__init__(self.api, clock, host=host, port=port, tls=tls, cert_dir=cert_dir)

    @property
    def api_url(self) -> str:
        """`https://127.0.0.1:PORT/attask/api/v19.0/` (the configured version)."""
        return f"{self.url}/attask/api/v{self.version}/"

    # --- hours and expenses --------------------------------------------------------------
    def add_hour(self, **values: Value) -> str:
        """Log hours (fields as Workfront names them); returns the new ID."""
        return self.store.insert("HOUR", values)

    def change_hour(self, hour_id: str, **values: Value) -> Row:
        return self.store.update("HOUR", hour_id, values)

    def set_hour_status(self, hour_id: str, status: str) -> Row:
        """Approve (`APP`), reject (`REJ`) or resubmit (`SUB`) an hour."""
        return self.store.update("HOUR", hour_id, {"status": status})

    def delete_hour(self, hour_id: str) -> Row:
        """Delete an hour outright (journaled when the journal is on)."""
        return self.store.delete("HOUR", hour_id)

    def add_expense(self, **values: Value) -> str:
        return self.store.insert("EXPNS", values)

    def change_expense(self, expense_id: str, **values: Value) -> Row:
        return self.store.update("EXPNS", expense_id, values)

    def delete_expense(self, expense_id: str) -> Row:
        return self.store.delete("EXPNS", expense_id)

    # --- predecessors and assignments ----------------------------------------------------
    def delete_assignment(self, assignment_id: str) -> Row:
        """Delete an assignment (ASSGN) outright: no later search lists it, and the journal
        records nothing of it (Adobe documents journal entries of hours, not assignments)."""
        return self.store.delete("ASSGN", assignment_id)

    def delete_predecessor(self, predecessor_id: str) -> Row:
        """Delete a predecessor link (PRED) outright, unjournaled, as `delete_assignment`."""
        return self.store.delete("PRED", predecessor_id)

    def touch(self, code: str, record_id: str) -> Row:
        """Move a record's `lastUpdateDate` and nothing else."""
        return self.store.touch(code, record_id)

    def totals(
        self, code: str = "HOUR", number: str = "hours", where: Mapping[str, Value] | None = None
    ) -> dict[str | None, Decimal]:
        """The sum of `number` per projectID of the rows now held (matching `where`)."""
        sums: dict[str | None, Decimal] = {}
        for row in self.store.rows(code):
            if where and any(row.get(k) != v for k, v in where.items()):
                continue
            value = row.get(number)
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                key = row.get("projectID")
                project = key if isinstance(key, str) else None
                sums[project] = sums.get(project, Decimal(0)) + Decimal(value)
        return sums

    # --- journal -------------------------------------------------------------------------
    def disable_journal(self, *, refuse: bool = True) -> None:
        """The account's journal stops recording hours and expenses; with `refuse`, reading
        JRNLE is refused (403), else it answers with no new entries."""
        self.store.journal_enabled = False
        self.api.journal_readable = not refuse

    def enable_journal(self) -> None:
        self.store.journal_enabled = True
        self.api.journal_readable = True

    # --- sessions and failures -----------------------------------------------------------
    @property
    def session_ttl(self) -> float:
        return self.api.session_ttl

    @session_ttl.setter
    def session_ttl(self, seconds: float) -> None:
        self.api.session_ttl = seconds

    def issue_access_token(self) -> str:
        """An OAuth access token (sent as `sessionID`)."""
        return self.api.issue_access_token()

    def expire_sessions(self) -> None:
        """Every session in force is gone (logging in again works)."""
        self.api.expire_sessions()

    def expire_after(self, calls: int) -> None:
        """The sessions in force die after `calls` more authenticated calls."""
        self.api.expire_after(calls)

    def revoke_api_key(self) -> None:
        """The API key stops working (a 401 on every call that sends it)."""
        self.api.revoke_api_key()

    def fail_next(
        self,
        calls: int = 1,
        *,
        status: int = 503,
        retry_after: int | str | None = None,
        objcode: str | None = None,
    ) -> None:
        """The next `calls` data calls (of `objcode` only, if given) answer `status`:
        429 (with `Retry-After` when given: seconds, or any text such as an HTTP date) or a
        5xx, with an error body."""
        message = "Too Many Requests" if status == 429 else "Service Unavailable"
        self.api.fail_next(Fault("status", calls, status, retry_after, objcode, message))

    def error_body_next(
        self, calls: int = 1, *, message: str = "Internal error", objcode: str | None = None
    ) -> None:
        """The next `calls` data calls answer 200 with an `error` body."""
        self.api.fail_next(Fault("error_body", calls, 200, None, objcode, message))

    def unauthorized_next(self, calls: int = 1, *, objcode: str | None = None) -> None:
        """The next `calls` data calls answer 401 with Workfront's body."""
        self.api.fail_next(Fault("unauthorized", calls, 401, None, objcode))

    # --- the log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, oldest first (secrets masked)."""
        return self.api.requests

    @property
    def calls(self) -> Counter[str]:
        """Calls per endpoint: `login`, `HOUR/search`, `HOUR/count`, `PROJ/report`..."""
        return self.api.calls

    def clear_log(self) -> None:
        self.api.clear_log()


def _wall_clock() -> datetime:
    return datetime.now(UTC)
