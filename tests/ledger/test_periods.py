"""Stored fiscal periods: ensure_periods, PeriodIndex.load, close and reopen, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import FiscalPeriod
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import generate_years
from pmo_ledger.ledger.time.periods import PeriodIndex, close_period, ensure_periods, reopen_period

CLOSE_TIME = datetime(2025, 11, 3, 9, 30, tzinfo=timezone(timedelta(hours=-6)))


def stored_count(session: Session, calendar: str = "fiscal") -> int:
    """Number of fiscal_period rows of a calendar."""
    query = select(func.count()).select_from(FiscalPeriod).where(FiscalPeriod.calendar == calendar)
    return session.scalar(query) or 0


def stored(session: Session, key: str) -> FiscalPeriod:
    """A period row read back from the database."""
    session.expire_all()
    return session.scalars(select(FiscalPeriod).where(FiscalPeriod.period == key)).one()


def test_ensure_periods_inserts_the_missing_years_once(session: Session) -> None:
    """Two years are 24 rows; running again inserts nothing; a third year adds 12."""
    cal = CalendarSettings()
    assert ensure_periods(session, cal, date(2024, 3, 1), date(2025, 2, 1)) == 24
    session.commit()
    assert stored_count(session) == 24
    assert ensure_periods(session, cal, date(2024, 1, 1), date(2025, 12, 31)) == 0
    assert ensure_periods(session, cal, date(2025, 6, 1), date(2026, 1, 1)) == 12
    session.commit()
    assert stored_count(session) == 36


def test_ensure_periods_stores_special_periods_open(session: Session) -> None:
    """A year with two special periods is 14 rows, all open, specials flagged."""
    cal = CalendarSettings(name="sap", special_periods=2)
    assert ensure_periods(session, cal, date(2025, 1, 1), date(2025, 12, 31)) == 14
    session.commit()
    rows = session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.period)).all()
    assert [(r.period, r.special) for r in rows[-3:]] == [
        ("2025-12", False),
        ("2025-13", True),
        ("2025-14", True),
    ]
    assert {r.status for r in rows} == {"open"}
    assert {r.closed_at for r in rows} == {None}
    assert (rows[-1].start_on, rows[-1].end_on) == (date(2025, 12, 31), date(2025, 12, 31))


def test_ensure_periods_fills_a_year_missing_some_periods(session: Session) -> None:
    """Turning on special periods later adds only the special periods."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    more = CalendarSettings(special_periods=4)
    assert ensure_periods(session, more, date(2025, 1, 1), date(2025, 12, 31)) == 4
    assert stored_count(session) == 16


def test_ensure_periods_refuses_a_changed_calendar(session: Session) -> None:
    """Stored periods that the settings would now make differently are an error."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    with pytest.raises(ValueError, match=r"fiscal period 2025-01 of calendar fiscal is stored as"):
        ensure_periods(session, CalendarSettings(type="445"), date(2025, 6, 1), date(2025, 6, 1))


def test_calendars_are_kept_apart(session: Session) -> None:
    """Two calendar names hold their own periods."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    weeks = CalendarSettings(name="retail", type="13x4")
    assert ensure_periods(session, weeks, date(2025, 1, 1), date(2025, 12, 31)) == 26
    assert stored_count(session, "retail") == 26


def test_load_and_period_for(session: Session) -> None:
    """A loaded index files a day in its period and knows the calendar's bounds."""
    ensure_periods(session, CalendarSettings(type="445"), date(2022, 1, 1), date(2023, 12, 30))
    session.commit()
    index = PeriodIndex.load(session, "fiscal")
    assert len(index) == 24
    assert index.period_for(date(2022, 12, 31)) == "2022-12"
    assert index.period_for(date(2023, 1, 1)) == "2023-01"
    assert index.bounds("2022-12") == (date(2022, 11, 20), date(2022, 12, 31))
    assert index.first_open() == "2022-01"
    with pytest.raises(LookupError):
        index.period_for(date(2024, 1, 1))


def test_close_and_reopen(session: Session) -> None:
    """Closing stores the UTC close time; closing again changes nothing; reopening clears it."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    assert close_period(session, "fiscal", "2025-10", CLOSE_TIME) is True
    session.commit()
    row = stored(session, "2025-10")
    assert row.status == "closed"
    assert row.closed_at == datetime(2025, 11, 3, 15, 30, tzinfo=UTC)
    assert row.closed_at.utcoffset() == timedelta(0)

    later = CLOSE_TIME + timedelta(days=1)
    assert close_period(session, "fiscal", "2025-10", later) is False
    session.commit()
    assert stored(session, "2025-10").closed_at == datetime(2025, 11, 3, 15, 30, tzinfo=UTC)

    index = PeriodIndex.load(session, "fiscal")
    assert index.is_closed("2025-10")
    assert not index.is_closed("2025-11")

    assert reopen_period(session, "fiscal", "2025-10") is True
    session.commit()
    row = stored(session, "2025-10")
    assert (row.status, row.closed_at) == ("open", None)
    assert reopen_period(session, "fiscal", "2025-10") is False


def test_first_open_after_closing(session: Session) -> None:
    """Closing the first periods moves the first open period on."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    for key in ("2025-01", "2025-02"):
        close_period(session, "fiscal", key, CLOSE_TIME)
    session.commit()
    assert PeriodIndex.load(session, "fiscal").first_open() == "2025-03"


def test_unknown_period_is_a_lookup_error(session: Session) -> None:
    """An unknown period or calendar names both in the error."""
    ensure_periods(session, CalendarSettings(), date(2025, 1, 1), date(2025, 12, 31))
    with pytest.raises(LookupError) as caught:
        close_period(session, "fiscal", "2031-01", CLOSE_TIME)
    assert str(caught.value) == "no fiscal period 2031-01 in calendar fiscal"
    with pytest.raises(LookupError) as caught:
        reopen_period(session, "other", "2025-01")
    assert str(caught.value) == "no fiscal period 2025-01 in calendar other"


def test_close_refuses_a_bad_key_or_naive_time(session: Session) -> None:
    """A malformed key and a naive close time are ValueErrors."""
    with pytest.raises(ValueError, match="expected a period like 2025-03, got '2025-1'"):
        close_period(session, "fiscal", "2025-1", CLOSE_TIME)
    with pytest.raises(ValueError, match="timezone-aware"):
        close_period(session, "fiscal", "2025-01", CLOSE_TIME.replace(tzinfo=None))


def test_ensure_periods_from_a_calendar_file_stores_the_files_years(
    session: Session, tmp_path: Path
) -> None:
    """A file calendar stores the years the file has that overlap the range."""
    path = tmp_path / "cal.csv"
    rows = [
        f"{p.fiscal_year},{p.period_no},{p.start_on},{p.end_on}"
        for p in generate_years(CalendarSettings(type="13x4"), 2024, 2025)
    ]
    path.write_text("fiscal_year,period_no,start_on,end_on\n" + "\n".join(rows) + "\n")
    cal = CalendarSettings(type="file", file=path)
    assert ensure_periods(session, cal, date(2020, 1, 1), date(2030, 12, 31)) == 26
    assert ensure_periods(session, cal, date(2020, 1, 1), date(2030, 12, 31)) == 0
    assert PeriodIndex.load(session, "fiscal").period_for(date(2025, 12, 27)) == "2025-13"
