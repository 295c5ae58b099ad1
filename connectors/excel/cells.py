"""Cell values as the ledger wants them: exact amounts, dates, periods, days and percents.

openpyxl hands a number cell over as an `int` or a `float` (Excel keeps every number as an
IEEE double). The money rule (docs/connectors/excel.md, "Amounts are read exactly"):

1. an `int` is taken as it is;
2. a `float` is read through its shortest round-trip text (`repr`: 1234.56 for the double
   nearest 1234.56, never 1234.5599999999999) and then rounded to 15 significant digits,
   the precision Excel itself shows and keeps for a typed number. So the binary error of a
   computed cell (=0.1+0.2 gives 0.30000000000000004) goes, and what a person typed comes
   back digit for digit;
3. a text cell that is a plain decimal number (`1234.56`, `-5`) is taken as written;
4. the result may not have more decimals than the currency's minor unit (USD 2, JPY 0):
   1234.567 in USD is refused, never rounded silently (=ROUND(x, 2) in the sheet fixes it).

Any other value (a word, an error like #DIV/0!, TRUE) is not an amount. Every refusal is a
`CellError` whose message says what was found; the reader adds the file, sheet and cell.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import parse_period, periods_overlapping

#: Significant digits Excel shows and keeps for a number (its 15-digit precision).
EXCEL_DIGITS = 15
#: The ledger's largest amount (rule 6).
MAX_AMOUNT = Decimal(900_000_000_000_000)
_EXCEL = Context(prec=EXCEL_DIGITS, rounding=ROUND_HALF_UP)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DAYS_Q = Decimal("0.01")


class CellError(ValueError):
    """A cell's value cannot be used; the message says what it holds and why."""


def shown(value: Any) -> str:
    """A cell value as a message quotes it: text in quotes, numbers and dates as they read."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    return str(value)


def number(value: Any, what: str = "a number") -> Decimal:
    """A number cell (or plain decimal text) as an exact Decimal, by rules 1-3 of the module
    docstring. Raises CellError for anything else."""
    if isinstance(value, bool) or value is None:
        raise CellError(f"{shown(value)} is not {what}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CellError(f"{shown(value)} is not {what}")
        return _EXCEL.plus(Decimal(repr(value)))  # at most 15 significant digits
    if isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise CellError(f"{shown(value)} is not {what}")


def decimals(value: Decimal) -> int:
    """Digits after the decimal point that `value` needs (trailing zeros do not count)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def amount(value: Any, currency: str, minor: int) -> Decimal:
    """An amount of `currency` (`minor` decimals) read exactly (module docstring), quantized to
    the minor unit. Raises CellError for a non-number, too many decimals or a value beyond
    +/-900,000,000,000,000."""
    found = number(value, "an amount")
    if decimals(found) > minor:
        raise CellError(
            f"{found if isinstance(value, float) else shown(value)} has {decimals(found)} "
            f"decimals; {currency} takes {minor} "
            f"(round it in the sheet, e.g. =ROUND(...; {minor}))"
        )
    if abs(found) > MAX_AMOUNT:
        raise CellError(f"{shown(value)} is beyond the ledger's largest amount")
    return found.quantize(Decimal(1).scaleb(-minor))


def days(value: Any) -> Decimal:
    """A duration or lag in working days, to 2 decimals (ROUND_HALF_UP: a duration is an
    estimate, not money). Raises CellError for a non-number."""
    return number(value, "a number of days").quantize(_DAYS_Q)


def percent(value: Any, number_format: str | None) -> Decimal:
    """Percent complete 0-100 with 2 decimals: a cell formatted as a percentage (0.45 shown
    as 45%) is multiplied by 100, any other number is the percent itself (45). Raises
    CellError outside 0-100."""
    found = number(value, "a percentage")
    if number_format and "%" in number_format:
        found = found * 100
    if not Decimal(0) <= found <= Decimal(100):
        raise CellError(f"{shown(value)} is not a percentage between 0 and 100")
    return found.quantize(_DAYS_Q)


def day(value: Any) -> date:
    """A business date: a date cell (no time of day) or ISO text YYYY-MM-DD. Raises CellError
    for a number (a date cell formatted as General) or other text."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise CellError(f"{shown(value)} has a time of day; a date is wanted")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise CellError(f"{shown(value)} is a number, not a date (format the cell as a date)")
    raise CellError(f"{shown(value)} is not a date")


def period_of(d: date, calendar: CalendarSettings) -> str:
    """The fiscal period ('YYYY-PP') holding day `d` (regular periods only)."""
    for spec in periods_overlapping(calendar, d, d):
        if spec.start_on <= d <= spec.end_on and not spec.special:
            return spec.key
    raise CellError(f"{d.isoformat()} is in no fiscal period of the calendar")


def period(value: Any, calendar: CalendarSettings) -> str:
    """A fiscal period: text 'YYYY-PP', or a date cell (Excel turns a typed 2025-03 into
    1 March 2025), which gives the period holding that day. Raises CellError otherwise."""
    if isinstance(value, datetime | date):
        return period_of(day(value), calendar)
    if isinstance(value, str):
        try:
            year, number_ = parse_period(value.strip())
        except ValueError:
            pass
        else:
            return f"{year:04d}-{number_:02d}"
    raise CellError(f"{shown(value)} is not a period (YYYY-PP)")


def text(value: Any) -> str | None:
    """A text cell stripped; a whole number (an id typed as 1001) as its digits; None when
    empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return shown(value)
    out = str(value).strip()
    return out or None
