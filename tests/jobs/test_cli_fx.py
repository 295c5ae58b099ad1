"""`pmo-ledger fx import` (issue 18, item 3): two different rates for one key in a file are
refused naming both rows, the same rate twice is imported once, and a rate from a currency to
itself must be 1. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from pmo_ledger.ledger.models import FxRate, FxRateDaily
from tests.jobs.test_cli import Ledger, failed, ledger, ok

__all__ = ["ledger"]  # the fixture, imported

HEADER = "from_ccy,to_ccy,valid_from,rate,rate_type\n"


def rates_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def stored(ledger: Ledger) -> list[tuple[str, str, str, Decimal]]:
    """(rate type, from, to, rate) of every stored rate, and no daily row without one."""
    with ledger.session() as s:
        rows = s.execute(
            select(FxRate.rate_type, FxRate.from_ccy, FxRate.to_ccy, FxRate.rate).order_by(
                FxRate.from_ccy, FxRate.rate_type
            )
        ).all()
        if not rows:
            assert s.scalar(select(func.count()).select_from(FxRateDaily)) == 0
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_two_rates_for_one_key_refuse_the_file_naming_both_rows(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Lines 2 and 4 give the corporate EUR/USD rate of 2025-10-01 as 1.10 and 1.12: which one
    holds is unknowable, so the file is refused naming both lines and values; the GBP row
    between them is not imported either (before: 'line 4: ... is also on line 2', no values)."""
    csv = rates_file(
        tmp_path,
        "EUR,USD,2025-10-01,1.10,corporate",
        "GBP,USD,2025-10-01,1.25,corporate",
        "EUR,USD,2025-10-01,1.12,",
    )
    assert failed(ledger.run("fx", "import", str(csv))) == (
        f"error: {csv}: lines 2 and 4 give the corporate rate EUR/USD from 2025-10-01 two "
        "rates, '1.10' and '1.12'; nothing was imported\n"
    )
    assert stored(ledger) == []


def test_the_same_rate_twice_is_imported_once_and_counted(ledger: Ledger, tmp_path: Path) -> None:
    """1.1 and 1.10 for one key are the same rate: one rate is stored and the summary counts
    the repeat (before: the file was refused); another rate type is another key."""
    csv = rates_file(
        tmp_path,
        "EUR,USD,2025-10-01,1.1,corporate",
        "EUR,USD,2025-10-01,1.10,corporate",
        "EUR,USD,2025-10-01,1.2,budget",
    )
    assert ok(ledger.run("fx", "import", str(csv))) == (
        f"imported 2 rates from {csv} (1 repeated row skipped); 0 lines converted, 0 restated\n"
    )
    assert stored(ledger) == [
        ("budget", "EUR", "USD", Decimal("1.2")),
        ("corporate", "EUR", "USD", Decimal("1.1")),
    ]


def test_a_rate_from_a_currency_to_itself_must_be_1(ledger: Ledger, tmp_path: Path) -> None:
    """EUR/EUR 1.2 is refused naming its row (before: stored as given), and the GBP row before
    it is not imported either; EUR/EUR 1 is harmless and imported."""
    csv = rates_file(tmp_path, "GBP,USD,2025-10-01,1.25,", "eur,EUR,2025-10-01,1.2,")
    assert failed(ledger.run("fx", "import", str(csv))) == (
        f"error: {csv}: line 3: a rate from EUR to itself must be 1, got '1.2'\n"
    )
    assert stored(ledger) == []
    csv = rates_file(tmp_path, "EUR,EUR,2025-10-01,1.000,")
    ok(ledger.run("fx", "import", str(csv)))
    assert stored(ledger) == [("corporate", "EUR", "EUR", Decimal(1))]
