"""FX rates keep their value (rule 7) on SQLite and PostgreSQL: a rate the ledger's 8 places
cannot hold, one of 10^10 or more, or one dated far out is refused (a file names the row, a
source stream's record waits in quarantine), never rounded to zero; a rate file is imported
whole or not at all."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.fx.file_import import FxFileError, import_fx_csv
from pmo_ledger.ledger.models import (
    ActualLine,
    ActualPeriodTotal,
    FxRate,
    FxRateDaily,
    LedgerEntry,
    Quarantine,
)
from pmo_ledger.ledger.records import FxRateRecord
from tests.builders import (
    T0,
    actual,
    add_project,
    assert_entries_match_lines,
    line,
    load,
    settings,
)
from tests.ledger.conftest import refusing_rates_from

HEADER = "from_ccy,to_ccy,valid_from,rate,rate_type\n"


def rate(
    ccy: str, value: str, valid_from: date = date(2025, 1, 1), to: str = "USD"
) -> FxRateRecord:
    return FxRateRecord(from_ccy=ccy, to_ccy=to, valid_from=valid_from, rate=Decimal(value))


def ledger_state(session: Session) -> dict[str, Any]:
    """What a refused rate or file must leave as it was."""
    lines = session.execute(
        select(ActualLine.external_id, ActualLine.rate, ActualLine.base_amount).order_by(
            ActualLine.external_id
        )
    ).all()
    return {
        "fx_rate": session.scalar(select(func.count()).select_from(FxRate)),
        "fx_rate_daily": session.scalar(select(func.count()).select_from(FxRateDaily)),
        "quarantine": session.scalar(select(func.count()).select_from(Quarantine)),
        "ledger_entry": session.scalar(select(func.count()).select_from(LedgerEntry)),
        "lines": [tuple(r) for r in lines],
    }


# --- source streams ----------------------------------------------------------------------------


def test_source_rates_the_ledger_cannot_hold_wait_in_quarantine(session: Session) -> None:
    """1e-20 (stored as 0 before), 1.5e-8 (would be 2e-8), 1e12, year 1 and year 9999 are held
    with their reason; the rates that keep their value load (0.00000167 exactly too); a GBP
    line stays unconverted instead of getting a base amount of 0."""
    add_project(session, "P1")
    load(session, [actual("g1", "769.00", currency="GBP", posted_on=date(2025, 3, 3))], at=T0)
    result = load(
        session,
        [
            rate("GBP", "1e-20"),
            rate("JPY", "0.000000015"),
            rate("CHF", "1e12"),
            rate("SEK", "0.095", date(1, 1, 1)),
            rate("NOK", "0.093", date(9999, 1, 1)),
            rate("EUR", "1.10"),
            rate("IRR", "0.00000167"),
        ],
        source="manual",
        stream="fx",
        at=T0,
    )
    held = {q.external_id: (q.reason, q.detail) for q in session.scalars(select(Quarantine))}
    assert held == {
        "corporate/GBP/USD/2025-01-01": (
            "rate_out_of_precision",
            "rate 1E-20 cannot be held at 8 decimal places: it would be stored as 0.00000000, "
            "more than 0.1% away",
        ),
        "corporate/JPY/USD/2025-01-01": (
            "rate_out_of_precision",
            "rate 1.5E-8 cannot be held at 8 decimal places: it would be stored as 0.00000002, "
            "more than 0.1% away",
        ),
        "corporate/CHF/USD/2025-01-01": (
            "rate_out_of_range",
            "rate 1E+12 is too large: rates must be below 10,000,000,000",
        ),
        "corporate/SEK/USD/0001-01-01": (
            "date_out_of_range",
            "valid_from 0001-01-01 is outside 1900-01-01 .. 2075-12-31",
        ),
        "corporate/NOK/USD/9999-01-01": (
            "date_out_of_range",
            "valid_from 9999-01-01 is outside 1900-01-01 .. 2075-12-31",
        ),
    }
    assert (result.stats.read, result.stats.quarantined) == (7, 5)
    stored = session.execute(select(FxRate.from_ccy, FxRate.rate).order_by(FxRate.from_ccy)).all()
    assert [tuple(r) for r in stored] == [
        ("EUR", Decimal("1.10000000")),
        ("IRR", Decimal("0.00000167")),
    ]
    # Two series, each 2025-01-01 .. 2026-12-31 (the end of the year after today, T0).
    assert session.scalar(select(func.count()).select_from(FxRateDaily)) == 2 * 730
    g1 = line(session, "g1")
    assert (g1.rate, g1.base_amount) == (None, None)


def test_a_rate_too_small_for_the_decimal_context_is_held_never_stored_as_0(
    session: Session,
) -> None:
    """1e-999999999 underflowed the comparison (0.1% of it is 0 in the default context) and was
    stored as 0: it waits in quarantine like 1e-20, and the GBP line waits unconverted."""
    add_project(session, "P1")
    load(session, [actual("g1", "769.00", currency="GBP", posted_on=date(2025, 3, 3))], at=T0)
    result = load(session, [rate("GBP", "1e-999999999")], source="manual", stream="fx", at=T0)
    held = [(q.external_id, q.reason, q.detail) for q in session.scalars(select(Quarantine))]
    assert held == [
        (
            "corporate/GBP/USD/2025-01-01",
            "rate_out_of_precision",
            "rate 1E-999999999 cannot be held at 8 decimal places: it would be stored as "
            "0.00000000, more than 0.1% away",
        )
    ]
    assert (result.stats.read, result.stats.quarantined, result.fx) == (1, 1, {})
    assert session.scalar(select(func.count()).select_from(FxRate)) == 0
    g1 = line(session, "g1")
    assert (g1.rate, g1.base_amount) == (None, None)


def test_a_good_version_of_a_held_rate_resolves_its_quarantine_entry(session: Session) -> None:
    """GBP/USD 1e-20 waits in quarantine; the same key with 1.25 loads, resolves the entry
    (rule 5) and converts the waiting line. An entry for another key stays open."""
    add_project(session, "P1")
    load(session, [actual("g1", "769.00", currency="GBP", posted_on=date(2025, 3, 3))], at=T0)
    load(session, [rate("GBP", "1e-20"), rate("JPY", "1e-20")], source="manual", stream="fx",
         at=T0)  # fmt: skip
    later = T0 + timedelta(hours=1)
    result = load(session, [rate("GBP", "1.25")], source="manual", stream="fx", at=later)
    entries = session.execute(
        select(Quarantine.external_id, Quarantine.status, Quarantine.resolution,
               Quarantine.resolved_at).order_by(Quarantine.external_id)
    ).all()  # fmt: skip
    assert [tuple(e) for e in entries] == [
        ("corporate/GBP/USD/2025-01-01", "resolved", "loaded", later),
        ("corporate/JPY/USD/2025-01-01", "open", None, None),
    ]
    assert result.fx == {"fx_convert": 1, "fx_restate": 0, "rate_outdated": 0}
    g1 = line(session, "g1")
    assert (g1.rate, g1.base_amount) == (Decimal("1.25000000"), Decimal("961.2500"))


def test_a_new_rate_8_places_cannot_hold_sends_open_lines_back_to_waiting(
    session: Session,
) -> None:
    """USD->IRR 420,000 converts two IRR lines (inverse 0.00000238). USD->IRR 600,000 from
    February cannot be held inverted (1/600,000 = 0.0000016667 -> 0.00000167, 0.2% off): the
    open April line goes back to waiting (an fx_restate entry reversing its base, rate and base
    NULL, counted unconverted), the closed March line keeps its rate, flagged rate_outdated.
    Before, both kept the superseded rate (a base 43% too high), unflagged."""
    from pmo_ledger.ledger.time.periods import close_period

    add_project(session, "P1")
    fx = {"source": "manual", "stream": "fx"}
    load(session, [rate("USD", "420000", date(2025, 1, 1), "IRR")], at=T0, **fx)
    load(
        session,
        [
            actual("mar", "42000000.00", currency="IRR", posted_on=date(2025, 3, 3)),
            actual("apr", "21000000.00", currency="IRR", posted_on=date(2025, 4, 3)),
        ],
        at=T0,
    )
    close_period(session, "fiscal", "2025-03", T0)
    session.commit()
    later = T0 + timedelta(days=1)
    result = load(session, [rate("USD", "600000", date(2025, 2, 1), "IRR")], at=later, **fx)
    assert result.fx == {"fx_convert": 0, "fx_restate": 1, "rate_outdated": 1}
    lines = {
        key: (ln.rate, ln.rate_valid_from, ln.fx_source, ln.base_amount, ln.rate_outdated)
        for key in ("mar", "apr")
        for ln in [line(session, key)]
    }
    assert lines == {
        "mar": (Decimal("0.00000238"), date(2025, 1, 1), "rate", Decimal("99.9600"), True),
        "apr": (None, None, None, None, False),
    }
    entries = session.execute(
        select(ActualLine.external_id, LedgerEntry.reason, LedgerEntry.amount_delta,
               LedgerEntry.base_delta)
        .join(ActualLine, ActualLine.id == LedgerEntry.line_id)
        .order_by(ActualLine.external_id, LedgerEntry.id)
    ).all()  # fmt: skip
    assert [tuple(e) for e in entries] == [
        ("apr", "insert", Decimal("21000000.0000"), Decimal("49.9800")),
        ("apr", "fx_restate", Decimal("0.0000"), Decimal("-49.9800")),
        ("mar", "insert", Decimal("42000000.0000"), Decimal("99.9600")),
    ]
    assert_entries_match_lines(session)
    totals = session.execute(
        select(ActualPeriodTotal.period, ActualPeriodTotal.base_amount, ActualPeriodTotal.lines,
               ActualPeriodTotal.unconverted_lines).order_by(ActualPeriodTotal.period)
    ).all()  # fmt: skip
    assert [tuple(t) for t in totals] == [
        ("2025-03", Decimal("99.9600"), 1, 0),
        ("2025-04", Decimal("0.0000"), 1, 1),
    ]
    again = load(session, [rate("USD", "600000", date(2025, 2, 1), "IRR")], at=later, **fx)
    assert again.fx == {}  # the same rate again: nothing changed, nothing written


def test_a_derived_rate_8_places_cannot_hold_leaves_the_line_waiting(
    session: Session, engine: Engine
) -> None:
    """An inverse of 1/9,000,000,000 would round to 0, and a 0 stored before the checks is
    not a rate: both lines wait unconverted, neither gets a base amount of 0."""
    add_project(session, "P1")
    load(session, [rate("USD", "9000000000", to="VND")], source="manual", stream="fx", at=T0)
    session.execute(
        insert(FxRate).values(
            source="manual", rate_type="corporate", from_ccy="GBP", to_ccy="USD",
            valid_from=date(2025, 1, 1), rate=Decimal(0), recorded_at=T0, updated_at=T0,
        )
    )  # fmt: skip
    load(
        session,
        [actual("v1", "1000000.00", currency="VND"), actual("g1", "769.00", currency="GBP")],
        at=T0,
    )
    assert [(line(session, k).rate, line(session, k).base_amount) for k in ("v1", "g1")] == [
        (None, None),
        (None, None),
    ]


def test_a_pivot_that_holds_the_rate_is_used_when_the_inverse_cannot(session: Session) -> None:
    """VND -> USD through EUR: the inverse of USD -> VND cannot be held, the pivot can."""
    cfg = settings(pivot_currency="EUR")
    add_project(session, "P1")
    load(
        session,
        [
            rate("USD", "9000000000", to="VND"),
            rate("VND", "0.00004", to="EUR"),
            rate("EUR", "1.10"),
        ],
        source="manual",
        stream="fx",
        cfg=cfg,
        at=T0,
    )
    load(session, [actual("v1", "1000000.00", currency="VND")], cfg=cfg, at=T0)
    v1 = line(session, "v1")
    assert (v1.rate, v1.base_amount) == (Decimal("0.00004400"), Decimal("44.0000"))


# --- rate files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("GBP,USD,2025-10-01,1e-20,", "rate '1e-20' cannot be held at 8 decimal places: it would "
         "be stored as 0.00000000, more than 0.1% away"),
        ("GBP,USD,2025-10-01,1e-999999999,", "rate '1e-999999999' cannot be held at 8 decimal "
         "places: it would be stored as 0.00000000, more than 0.1% away"),
        ("GBP,USD,2025-10-01,0.0000000123,", "rate '0.0000000123' cannot be held at 8 decimal "
         "places: it would be stored as 0.00000001, more than 0.1% away"),
        ("GBP,USD,2025-10-01,1e12,", "rate '1e12' is too large: rates must be below "
         "10,000,000,000"),
        ("GBP,USD,2025-10-01,9999999999.999999996,", "rate '9999999999.999999996' is too large: "
         "rates must be below 10,000,000,000"),
        ("GBP,USD,2025-10-01,NaN,", "rate must be positive, got 'NaN'"),
        ("GBP,USD,2025-10-01,0,", "rate must be positive, got '0'"),
        ("GBP,USD,0001-01-01,1.25,", "valid_from 0001-01-01 is outside 1900-01-01 .. 2075-12-31"),
        ("GBP,USD,9999-12-31,1.25,", "valid_from 9999-12-31 is outside 1900-01-01 .. 2075-12-31"),
        ("GBP,USD,2025-10-01,1.25," + "b" * 41, "rate_type must be 1 to 40 characters without "
         f"NUL, got '{'b' * 41}'"),
        ("EUR,EUR,2025-10-01,1.2,", "a rate from EUR to itself must be 1, got '1.2'"),
    ],
    ids=["1e-20", "1e-999999999", "1.23e-8", "1e12", "10^10", "NaN", "0", "year-1", "year-9999", "rate-type", "self"],
)  # fmt: skip
def test_a_rate_file_with_a_bad_row_is_refused_naming_it(
    session: Session, tmp_path: Path, row: str, problem: str
) -> None:
    """The third line is refused with its value; the good line before it is not imported."""
    add_project(session, "P1")
    load(session, [actual("e1", "100.00", currency="EUR")], at=T0)
    before = ledger_state(session)
    path = tmp_path / "rates.csv"
    path.write_text(f"{HEADER}EUR,USD,2025-10-01,1.1,\n{row}\n", "utf-8")
    with pytest.raises(FxFileError) as refused:
        import_fx_csv(session, settings(), path, now=T0)
    assert str(refused.value) == f"{path}: line 3: {problem}"
    assert ledger_state(session) == before


def test_a_rate_file_giving_one_key_two_rates_is_refused_naming_both_lines(
    session: Session, tmp_path: Path
) -> None:
    """1.1 on line 2 and 1.2 on line 3 for the same key: both lines and values are named and
    nothing is imported (issue 18: before, "line 3: ... is also on line 2"). 1.1 then 1.10 is one
    rate: imported once, the repeat counted."""
    add_project(session, "P1")
    load(session, [actual("e1", "100.00", currency="EUR")], at=T0)
    before = ledger_state(session)
    path = tmp_path / "rates.csv"
    path.write_text(f"{HEADER}EUR,USD,2025-10-01,1.1,\nEUR,USD,2025-10-01,1.2,\n", "utf-8")
    with pytest.raises(FxFileError) as refused:
        import_fx_csv(session, settings(), path, now=T0)
    assert str(refused.value) == (
        f"{path}: lines 2 and 3 give the corporate rate EUR/USD from 2025-10-01 two rates, "
        "'1.1' and '1.2'; nothing was imported"
    )
    assert ledger_state(session) == before
    path.write_text(f"{HEADER}EUR,USD,2025-10-01,1.1,\nEUR,USD,2025-10-01,1.10,\n", "utf-8")
    imported = import_fx_csv(session, settings(), path, now=T0)
    assert (imported.rates, imported.repeated) == (1, 1)


def test_a_rate_file_the_database_refuses_in_part_is_refused_whole(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    """The database refuses the second of three rows: nothing of the file stays (no rate, no
    daily row, no quarantine entry, no conversion), and the error names the row."""
    add_project(session, "P1")
    load(session, [rate("EUR", "1.05", date(2025, 9, 1))], source="manual", stream="fx", at=T0)
    load(session, [actual("e1", "100.00", currency="EUR"), actual("g1", "10.00", currency="GBP")],
         at=T0)  # fmt: skip
    before = ledger_state(session)
    assert before["lines"] == [
        ("e1", Decimal("1.05000000"), Decimal("105.0000")),
        ("g1", None, None),
    ]
    session.rollback()  # no read snapshot older than the trigger (SQLite could not write then)
    path = tmp_path / "rates.csv"
    path.write_text(
        f"{HEADER}EUR,USD,2025-10-01,1.1,\nCHF,USD,2025-10-01,1.12,\nGBP,USD,2025-10-01,1.25,\n",
        "utf-8",
    )
    with refusing_rates_from(engine, "CHF"):
        try:
            with pytest.raises(FxFileError) as refused:
                import_fx_csv(session, settings(), path, now=T0 + timedelta(hours=1))
            session.commit()  # a caller that commits after the refusal commits nothing of it
        finally:
            session.rollback()  # (else PostgreSQL's DROP TRIGGER waits for this transaction)
    assert str(refused.value) == (
        f"{path}: line 3: the database refused the corporate rate CHF/USD from 2025-10-01: "
        "CHF refused; nothing was imported"
    )
    assert ledger_state(session) == before
    imported = import_fx_csv(session, settings(), path, now=T0 + timedelta(hours=2))
    assert (imported.rates, imported.result.fx) == (
        3, {"fx_convert": 1, "fx_restate": 1, "rate_outdated": 0}
    )  # fmt: skip
    assert ledger_state(session)["lines"] == [
        ("e1", Decimal("1.10000000"), Decimal("110.0000")),
        ("g1", Decimal("1.25000000"), Decimal("12.5000")),
    ]


def test_rates_stored_before_dates_were_checked_stay_out_of_the_daily_table(
    session: Session,
) -> None:
    """A year-1 or year-9999 rate already in fx_rate (stored before its date was checked) is
    left out when its series' daily table is rebuilt: no 744,000 rows, no crash past 9999."""
    from pmo_ledger.ledger.fx.rates import rebuild_daily

    series = ("manual", "corporate", "EUR", "USD")
    session.execute(
        insert(FxRate),
        [
            {"source": "manual", "rate_type": "corporate", "from_ccy": "EUR", "to_ccy": "USD",
             "valid_from": day, "rate": Decimal(value), "recorded_at": T0, "updated_at": T0}
            for day, value in (
                (date(1, 1, 1), "0.9"), (date(2025, 1, 1), "1.10"), (date(9999, 1, 1), "1.2")
            )
        ],
    )  # fmt: skip
    written = rebuild_daily(session, [series], today=date(2025, 6, 30))
    days = session.execute(
        select(func.min(FxRateDaily.day), func.max(FxRateDaily.day), func.count())
    ).one()
    assert written == 730
    assert tuple(days) == (date(2025, 1, 1), date(2026, 12, 31), 730)
    assert session.scalar(select(func.count()).where(FxRateDaily.rate != Decimal("1.10"))) == 0
