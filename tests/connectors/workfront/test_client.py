"""The Workfront client against a small local server (real sockets on 127.0.0.1): paging sorted
by ID with a one-row overlap that survives deletions mid-read, error bodies with status 200,
401 as a configuration error naming the key, logins and a session expiring mid-run, 429
retried with Retry-After, numbers kept exact. Waits go to an injected sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from pmo_ledger.connectors.errors import ConnectorConfigError, SourceError
from pmo_ledger.connectors.workfront.client import WorkfrontClient, wire_time
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings
from tests.connectors.kit.local_server import Answer, Seen, scripted, serving, url

ROOT = "/attask/api/v19.0"


def ids(n: int) -> list[str]:
    """n Workfront-like IDs (32 hex digits) in ascending order."""
    return [f"{i:032x}" for i in range(1, n + 1)]


def make(base: str, waits: list[float] | None = None, **settings: Any) -> WorkfrontClient:
    values: dict[str, Any] = {"base_url": base, "api_key": "k", "page_size": 3}
    values.update(settings)
    if "username" in settings or "access_token" in settings:
        values.pop("api_key")
    sleep = waits.append if waits is not None else (lambda s: None)
    return WorkfrontClient(WorkfrontSettings(**values), "wf", sleep=sleep)


class Table:
    """A server over one object's rows: `search` sorted by ID with $$FIRST/$$LIMIT, `count`;
    `on_call(n)` runs before the n-th search is answered (to change the rows mid-read)."""

    def __init__(self, rows: list[str]) -> None:
        self.rows = list(rows)
        self.searches = 0
        self.on_call: dict[int, Any] = {}

    def __call__(self, seen: Seen) -> Answer:
        if seen.path.endswith("/count"):
            return Answer(200, {"data": {"count": len(self.rows)}})
        self.searches += 1
        if self.searches in self.on_call:
            self.on_call[self.searches](self)
        assert seen.query["ID_Sort"] == "asc"
        first, limit = int(seen.query["$$FIRST"]), int(seen.query["$$LIMIT"])
        page = sorted(self.rows)[first : first + limit]
        return Answer(200, {"data": [{"ID": i, "hours": 1.5} for i in page]})


def listed(client: WorkfrontClient) -> list[str]:
    return [r["ID"] for rows in client.search("HOUR", ["ID", "hours"]) for r in rows]


def test_search_pages_by_id_with_limit_and_first() -> None:
    """Seven rows in pages of 3: every row once, in ID order, each page sorted by ID; each
    page after the first starts at the last row of the one before."""
    table = Table(ids(7))
    with serving(table) as server, make(url(server)) as client:
        assert listed(client) == ids(7)
    firsts = [s.query["$$FIRST"] for s in server.seen]
    assert firsts == ["0", "2", "4", "6"]
    assert {s.path for s in server.seen} == {f"{ROOT}/HOUR/search"}
    assert server.seen[0].query["fields"] == "ID,hours"
    assert server.seen[0].query["apiKey"] == "k"  # the documented request parameter


def test_rows_deleted_before_the_page_boundary_mid_read_are_not_skipped() -> None:
    """Two rows of the first page vanish before the second page is asked: the rows after
    them move up, the client sees its last row is gone from the page's head and looks back,
    so every surviving row is still listed once."""
    rows = ids(9)
    table = Table(rows)
    table.on_call[2] = lambda t: [t.rows.remove(r) for r in rows[:2]]
    with serving(table) as server, make(url(server)) as client:
        got = listed(client)
    assert got == rows[:3] + rows[3:]  # the two deleted ones were listed before they went
    assert len(got) == len(set(got)) == 9


def test_rows_inserted_before_the_cursor_mid_read_are_not_listed_twice() -> None:
    """A row inserted with a smaller ID pushes the others down: the overlap drops what was
    already listed."""
    rows = ids(8)[1:]
    table = Table(rows)
    table.on_call[2] = lambda t: t.rows.append(ids(1)[0])
    with serving(table) as server, make(url(server)) as client:
        got = listed(client)
    assert got == rows


def test_an_error_body_with_status_200_is_an_error() -> None:
    """`{"error": ...}` with 200 raises SourceError with Workfront's message."""
    body = {"error": {"class": "java.lang.UnsupportedOperationException", "message": "nope"}}
    with serving(scripted(Answer(200, body))) as server, make(url(server)) as client:
        with pytest.raises(SourceError, match="UnsupportedOperationException: nope"):
            client.count("HOUR", {})


def test_a_401_names_the_key_to_fix() -> None:
    """A refused API key is a ConnectorConfigError that names connectors.wf.api_key; a
    refused access token names access_token."""
    refused = Answer(401, {"error": {"class": "x.AuthenticationException", "message": "bad"}})
    with serving(scripted(refused)) as server:
        with make(url(server)) as client:
            with pytest.raises(ConnectorConfigError, match=r"set connectors\.wf\.api_key"):
                client.count("PROJ", {})
        with make(url(server), access_token="t") as client:
            with pytest.raises(ConnectorConfigError, match=r"set connectors\.wf\.access_token"):
                client.count("PROJ", {})
        assert server.seen[-1].headers["sessionid"] == "t"


def test_an_expired_session_logs_in_again_once_and_the_call_goes_on() -> None:
    """Login, one good call, then the session is refused: one new login, the call is asked
    again with the new session and answers."""
    sessions = iter(["s1", "s2"])
    state = {"live": ""}

    def route(seen: Seen) -> Answer:
        if seen.path.endswith("/login"):
            assert seen.method == "POST" and seen.query["password"] == "pw"
            state["live"] = next(sessions)
            return Answer(200, {"data": {"sessionID": state["live"], "userID": "u"}})
        if seen.headers.get("sessionid") != state["live"] or len(server.seen) == 3:
            state["live"] = "expired"
            return Answer(401, {"error": {"class": "AuthenticationException", "message": "x"}})
        return Answer(200, {"data": {"count": 5}})

    with serving(route) as server, make(url(server), username="u", password="pw") as client:
        assert client.count("PROJ", {}) == 5
        assert client.count("PROJ", {}) == 5
    paths = [s.path.rsplit("/", 1)[-1] for s in server.seen]
    assert paths == ["login", "count", "count", "login", "count"]
    assert server.seen[-1].headers["sessionid"] == "s2"


def test_a_login_refused_after_expiry_names_the_password() -> None:
    """The session expires and the new login is refused: a ConnectorConfigError naming
    connectors.wf.password, and no third login."""
    answers = iter(
        [
            Answer(200, {"data": {"sessionID": "s1"}}),
            Answer(401, {"error": {"class": "AuthenticationException", "message": "expired"}}),
            Answer(401, {"error": {"class": "AuthenticationException", "message": "locked"}}),
        ]
    )
    with serving(lambda seen: next(answers)) as server:
        with make(url(server), username="u", password="pw") as client:
            with pytest.raises(ConnectorConfigError, match=r"connectors\.wf\.password"):
                client.count("PROJ", {})
    assert [s.path.rsplit("/", 1)[-1] for s in server.seen] == ["login", "count", "login"]


def test_429_is_retried_after_the_seconds_workfront_states() -> None:
    """Two 429s with Retry-After: 3, then the answer: two waits of 3 s."""
    limited = Answer(429, {"error": {"class": "TooManyRequests", "message": "slow"}},
                     {"Retry-After": "3"})  # fmt: skip
    waits: list[float] = []
    ok = Answer(200, {"data": {"count": 2}})
    with serving(scripted(limited, limited, ok)) as server:
        with make(url(server), waits) as client:
            assert client.count("HOUR", {}) == 2
    assert waits == [3.0, 3.0]


def test_numbers_are_exact_decimals_from_the_json_text() -> None:
    """12345678.91 and 0.1 arrive as Decimals with their own digits, never through float."""
    raw = Answer(200, b'{"data": [{"ID": "a", "actualCost": 12345678.91, "hours": 0.1}]}')
    with serving(scripted(raw)) as server, make(url(server)) as client:
        (rows,) = list(client.search("HOUR", ["ID"]))
    assert rows[0]["actualCost"] == Decimal("12345678.91")
    assert rows[0]["hours"] == Decimal("0.1")


def test_filter_timestamps_are_iso_in_utc_with_milliseconds() -> None:
    """A cursor in any offset goes out as 2025-03-04T16:15:02.117Z."""
    at = datetime(2025, 3, 4, 10, 15, 2, 117000, tzinfo=timezone(timedelta(hours=-6)))
    assert wire_time(at) == "2025-03-04T16:15:02.117Z"
    assert wire_time(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00.000Z"
