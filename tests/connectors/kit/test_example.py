"""The worked example (`example_hours`, quoted by docs/connectors/writing-a-connector.md)
against a real server on 127.0.0.1: a full read as one scope with tie-safe checkpoints, an
incremental read, a rejected row, a retried 429, and vendor errors naming the key to fix.
The last test keeps the doc's quotes true to the file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pmo_ledger.connectors.base import (
    ConnectorContext,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from tests.connectors.kit.example_hours import HoursConnector, HoursSettings
from tests.connectors.kit.local_server import Answer, Seen, serving, url

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[2] / "docs" / "connectors" / "writing-a-connector.md"
T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def row(n: int, second: int, **extra: Any) -> dict[str, Any]:
    return {
        "ID": f"H{n:03d}",
        "project": "PRJ-1",
        "date": "2026-02-02",
        "hours": "7.5",
        "amount": "600.00",
        "currency": "EUR",
        "updated": (T0 + timedelta(seconds=second)).isoformat(),
        **extra,
    }


#: Five rows; H002 and H003 share their `updated` second; H004 has no amount.
ROWS = [row(1, 1), row(2, 2), row(3, 2), row(4, 3, amount="n/a"), row(5, 4)]


class HoursApi:
    """The source: sorted rows, $$FIRST/$$LIMIT paging, `since`, the key checked, and
    scripted failures (`fail` answers given before the real ones)."""

    def __init__(self) -> None:
        self.fail: list[Answer] = []

    def __call__(self, seen: Seen) -> Answer:
        if self.fail:
            return self.fail.pop(0)
        if seen.headers.get("apikey") != "k-1":
            return Answer(200, {"error": {"class": "x.AuthenticationException", "message": "key"}})
        limit = int(seen.query.get("$$LIMIT", "100"))
        if limit > 1000:
            body = {"error": {"class": "java.lang.IllegalArgumentException", "message": "LIMIT"}}
            return Answer(422, body)
        rows = sorted(ROWS, key=lambda r: (r["updated"], r["ID"]))
        if "since" in seen.query:
            since = datetime.fromisoformat(seen.query["since"])
            rows = [r for r in rows if datetime.fromisoformat(r["updated"]) >= since]
        first = int(seen.query.get("$$FIRST", "0"))
        return Answer(200, {"data": rows[first : first + limit]})


@pytest.fixture
def api() -> Iterator[tuple[HoursApi, str]]:
    source = HoursApi()
    with serving(source) as server:
        yield source, url(server)


def connector(base: str, **settings: Any) -> HoursConnector:
    values = {"base_url": base, "api_key": "k-1", "page_size": 2, **settings}
    return HoursConnector(HoursSettings.model_validate(values), ConnectorContext("timesheets"))


def ids(page: Page) -> list[str]:
    return [r.external_id for r in page.records]


def test_a_full_read_is_one_scope_with_tie_safe_checkpoints(api: tuple[HoursApi, str]) -> None:
    """Pages of two: [H001 H002] ends inside the tie at +2 s, so its checkpoint is +1 s; H004
    is rejected at its place; the ScopeEnd rides on the last page."""
    _, base = api
    pages = list(connector(base).extract("actuals", ReadRequest()))
    assert [ids(p) for p in pages] == [["H001", "H002"], ["H003"], ["H005"]]
    assert [p.scope for p in pages] == [ScopeStart("actuals"), None, ScopeEnd("actuals")]
    assert [p.checkpoint for p in pages] == [
        Cursor("timestamp", T0 + timedelta(seconds=1)),
        Cursor("timestamp", T0 + timedelta(seconds=3)),
        Cursor("timestamp", T0 + timedelta(seconds=4)),
    ]
    assert [r.external_id for r in pages[1].rejected] == ["H004"]
    first = pages[0].records[0]
    assert (first.hours, first.amount, first.currency) == (  # type: ignore[union-attr]
        Decimal("7.5"),
        Decimal("600.00"),
        "EUR",
    )


def test_an_incremental_read_starts_at_the_cursor(api: tuple[HoursApi, str]) -> None:
    _, base = api
    cursor = Cursor("timestamp", T0 + timedelta(seconds=3))
    pages = list(connector(base).extract("actuals", ReadRequest(cursor=cursor)))
    assert [(ids(p), p.scope) for p in pages] == [(["H005"], None)]
    assert [r.external_id for r in pages[0].rejected] == ["H004"]


def test_a_429_is_waited_out_and_the_read_goes_on(api: tuple[HoursApi, str]) -> None:
    source, base = api
    source.fail = [Answer(429, {}, {"Retry-After": "0"})]
    pages = list(connector(base).extract("actuals", ReadRequest()))
    assert sum(len(p.records) for p in pages) == 4


def test_a_refused_key_names_the_setting(api: tuple[HoursApi, str]) -> None:
    """The source says so in a 200's body: a config error naming the key to fix."""
    _, base = api
    with pytest.raises(ConnectorConfigError) as err:
        connector(base, api_key="wrong").check()
    assert str(err.value) == (
        "timesheets check: the source refused the API key (key): set connectors.timesheets.api_key"
    )


def test_a_page_size_the_source_refuses_names_the_setting(api: tuple[HoursApi, str]) -> None:
    """This source pages at most 1,000 rows; 1,500 is refused with a 422 and its class."""
    _, base = api
    with pytest.raises(ConnectorConfigError, match=r"lower connectors\.timesheets\.page_size$"):
        list(connector(base, page_size=1500).extract("actuals", ReadRequest()))


def test_the_doc_quotes_the_example_as_it_is() -> None:
    """Every ```python block of the guide that follows a `<!-- example_hours.py -->` line is
    a verbatim part of example_hours.py (there is at least one)."""
    text = DOC.read_text(encoding="utf-8")
    quotes = re.findall(r"<!-- example_hours\.py -->\n```python\n(.*?)```", text, re.DOTALL)
    code = (HERE / "example_hours.py").read_text(encoding="utf-8")
    assert len(quotes) >= 4
    for quote in quotes:
        assert quote in code, quote[:80]
