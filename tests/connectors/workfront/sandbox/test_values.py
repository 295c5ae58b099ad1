"""Values as Workfront writes them: its timestamp form, business dates, exact decimals,
minutes and hours."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from pmo_ledger.connectors.workfront.sandbox import DemoSeed, FakeWorkfront, WorkfrontSandbox
from pmo_ledger.connectors.workfront.sandbox.schema import FieldType
from pmo_ledger.connectors.workfront.sandbox.values import dumps, parse_filter, wire_value

DENVER = ZoneInfo("America/Denver")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}:\d{3}[+-]\d{4}$")


def test_datetime_has_a_colon_before_milliseconds_and_a_dst_offset() -> None:
    """Winter is -0700 and summer -0600 in the account's zone, milliseconds after a colon."""
    winter = datetime(2025, 1, 15, 16, 30, 5, 117000, tzinfo=UTC)
    summer = datetime(2025, 8, 30, 15, 0, tzinfo=UTC)
    assert wire_value(winter, FieldType.DATETIME, DENVER) == "2025-01-15T09:30:05:117-0700"
    assert wire_value(summer, FieldType.DATETIME, DENVER) == "2025-08-30T09:00:00:000-0600"


def test_business_date_is_midnight_of_that_day() -> None:
    """An hour's entryDate is written as midnight of its own day in the account's zone."""
    assert wire_value(date(2025, 3, 3), FieldType.DATE, DENVER) == "2025-03-03T00:00:00:000-0700"


def test_decimals_keep_their_exact_text() -> None:
    """Decimals are JSON numbers whose text reads back as the same Decimal."""
    text = dumps({"a": Decimal("1250.40"), "b": Decimal("0.1"), "c": Decimal("99213206.00")})
    assert text == '{"a":1250.40,"b":0.1,"c":99213206.00}'
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed == {"a": Decimal("1250.40"), "b": Decimal("0.1"), "c": Decimal("99213206.00")}


def test_filter_values_read_iso_workfront_and_wildcards() -> None:
    """ISO with Z, Workfront's form and $$TODAY-7d all read as instants."""
    now = datetime(2025, 7, 1, 14, 0, tzinfo=UTC)
    iso = parse_filter("2025-03-01T18:18:37.255Z", FieldType.DATETIME, DENVER, now)
    workfront = parse_filter("2025-03-01T11:18:37:255-0700", FieldType.DATETIME, DENVER, now)
    assert iso == workfront
    today = parse_filter("$$TODAY-7d", FieldType.DATETIME, DENVER, now)
    assert today == datetime(2025, 6, 24, 0, 0, tzinfo=DENVER)


def test_search_rows_on_the_wire(api: httpx.Client, store: FakeWorkfront) -> None:
    """Every timestamp of a project matches Workfront's form; budget reads as an exact
    Decimal."""
    rows = api.get("PROJ/search", params={"fields": "*", "ID_Sort": "asc"}).json(
        parse_float=Decimal
    )["data"]
    for row in rows:
        for name in ("entryDate", "lastUpdateDate", "plannedStartDate"):
            assert STAMP.match(row[name]), row[name]
    held = {row["ID"]: row["budget"] for row in store.rows("PROJ")}
    assert {row["ID"]: row["budget"] for row in rows} == held


def test_task_minutes_and_hours(api: httpx.Client, seed: DemoSeed) -> None:
    """A 10-day task: durationMinutes and workRequired 4800 minutes, work 80 hours,
    three-point durations in its custom fields."""
    design = seed.tasks[seed.projects["PRJ-0001"]][2]
    task = api.get(
        f"TASK/{design}",
        params={
            "fields": "duration,durationMinutes,durationUnit,"
            "workRequired,work,DE:Optimistic Duration,"
            "DE:Pessimistic Duration,wbs"
        },
    ).json(parse_float=Decimal)["data"]
    assert (task["name"], task["wbs"], task["durationUnit"]) == ("Solution design", "2.1", "D")
    assert (task["duration"], task["durationMinutes"], task["workRequired"]) == (10, 4800, 4800)
    assert task["work"] == Decimal(80)
    assert (task["DE:Optimistic Duration"], task["DE:Pessimistic Duration"]) == (
        Decimal("7.5"),
        Decimal("16.0"),
    )


def test_null_currency_project(api: httpx.Client, seed: DemoSeed) -> None:
    """PRJ-0004 has a null currency; the others name theirs."""
    rows = api.get("PROJ/search", params={"fields": "currency,DE:PSA Project Code"}).json()
    currencies = {r["DE:PSA Project Code"]: r["currency"] for r in rows["data"]}
    assert currencies["PRJ-0004"] is None
    assert currencies["PRJ-0001"] == "EUR"


def test_actual_cost_is_hours_times_rate(
    server: WorkfrontSandbox, store: FakeWorkfront, seed: DemoSeed
) -> None:
    """Hours of PRJ-0001 carry actualCost = hours x the person's rate; PRJ-0005's carry none."""
    rates = {}
    for row in store.rows("USER"):
        own = row["costPerHour"]
        role = store.find("ROLE", row["roleID"]) if row["roleID"] else None
        rates[row["ID"]] = own if own is not None else (role["costPerHour"] if role else None)
    for row in store.rows("HOUR"):
        if row["projectID"] == seed.projects["PRJ-0001"]:
            assert row["actualCost"] == (row["hours"] * rates[row["ownerID"]]).quantize(
                Decimal("0.01")
            )
        if row["projectID"] == seed.projects["PRJ-0005"]:
            assert row["actualCost"] is None
