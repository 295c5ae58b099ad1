"""Cell values as the ledger wants them: the money rule (floats through their shortest text,
15 significant digits, never more decimals than the currency has), dates, periods, percents."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from pmo_ledger.connectors.excel import cells
from pmo_ledger.ledger.settings import CalendarSettings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.56, "1234.56"),  # the double nearest 1234.56 reads back as typed
        (0.1 + 0.2, "0.30"),  # a computed cell's binary error goes (0.30000000000000004)
        (1_000_000.1 - 0.1, "1000000.00"),  # 1000000.0000000001 in binary
        (19.99 * 3, "59.97"),  # 59.97000000000001 in binary
        (42, "42.00"),
        ("-5.5", "-5.50"),  # plain decimal text is taken as written
        (123456789012.34, "123456789012.34"),
    ],
)
def test_amounts_are_read_exactly(value: object, expected: str) -> None:
    """Amounts come back digit for digit, quantized to the currency's 2 decimals."""
    found = cells.amount(value, "USD", 2)
    assert str(found) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not an amount"),
        ("#DIV/0!", "'#DIV/0!' is not an amount"),
        (True, "True is not an amount"),
        ("1,234.56", "'1,234.56' is not an amount"),
        (100 / 3, "33.3333333333333 has 13 decimals; USD takes 2"),
        (1234.567, "1234.567 has 3 decimals; USD takes 2"),
        (1e15, "is beyond the ledger's largest amount"),
    ],
)
def test_what_is_not_an_exact_amount_is_refused(value: object, message: str) -> None:
    with pytest.raises(cells.CellError, match=message.replace("(", r"\(")):
        cells.amount(value, "USD", 2)


def test_a_currency_without_decimals_refuses_cents() -> None:
    """JPY takes no decimals: 1500 loads, 1500.5 does not."""
    assert cells.amount(1500.0, "JPY", 0) == Decimal(1500)
    with pytest.raises(cells.CellError, match="JPY takes 0"):
        cells.amount(1500.5, "JPY", 0)


def test_dates_periods_and_percents() -> None:
    """A date cell or ISO text is a date; a date in the Period column is its fiscal period;
    a percent-formatted 0.455 is 45.5 percent, a plain 45 is 45."""
    cal = CalendarSettings()
    assert cells.day(_naive(date(2025, 3, 4))) == date(2025, 3, 4)
    assert cells.day("2025-03-04") == date(2025, 3, 4)
    assert cells.period(_naive(date(2025, 3, 1)), cal) == "2025-03"
    assert cells.period(" 2025-03 ", cal) == "2025-03"
    assert cells.percent(0.455, "0%") == Decimal("45.50")
    assert cells.percent(45, "General") == Decimal("45.00")
    with pytest.raises(cells.CellError, match="45000 is a number, not a date"):
        cells.day(45000)
    with pytest.raises(cells.CellError, match="has a time of day"):
        cells.day(_naive(date(2025, 3, 4), time(9, 30)))
    with pytest.raises(cells.CellError, match="'March' is not a period"):
        cells.period("March", cal)
    with pytest.raises(cells.CellError, match="not a percentage between 0 and 100"):
        cells.percent(1.5, "0%")


def _naive(d: date, at: time = time()) -> datetime:
    """A date cell as openpyxl gives it: a naive datetime (Excel has no time zone)."""
    return datetime.combine(d, at)
