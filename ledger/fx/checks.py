"""What an FX rate must be for the ledger to hold it (rule 7): checked the same way for a rate
file (`fx import`, which names the file's row) and for a source stream's rate records (held in
quarantine with the reason code), and for every rate a line is converted with.

Rates are `Numeric(18, 8)`: 8 decimal places, below 10^10 (on SQLite an integer x10^8, under
the same bound). Storing a rate rounds it to 8 places, ROUND_HALF_UP; a rate that rounding
would change by more than MAX_RATE_ROUNDING of itself cannot be held: it is refused, never
rounded away (a rate of 1e-20 would be stored as 0 and every line converted with it would get a
base amount of 0). A rate of 0.000005 or more always keeps its value; a smaller one keeps it
only when 8 places hold it within that part (0.00000167 exactly does, 0.0000000123 does not).
A rate's `valid_from` lies between EARLIEST_RATE_DAY and the end of the year RATE_YEARS_AHEAD
years from today: `fx_rate_daily` holds one row per day from the first rate on.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext

from pmo_ledger.ledger.currencies import is_currency
from pmo_ledger.ledger.records import FxRateRecord

#: The places a rate is stored with.
RATE_Q = Decimal("0.00000001")
#: Rates must stay below this (Numeric(18, 8): 10 digits before the point).
MAX_RATE = Decimal(10) ** 10
#: The largest change storing a rate at 8 places may make, as a part of the rate (0.1 %).
MAX_RATE_ROUNDING = Decimal("0.001")
#: Where held_rate compares: enough digits and exponent range that nothing rounds or underflows.
_EXACT = Context(prec=200, Emin=MIN_EMIN, Emax=MAX_EMAX)
#: The earliest valid_from a rate may have.
EARLIEST_RATE_DAY = date(1900, 1, 1)
#: A rate may be valid from at most the end of the year this many years from today.
RATE_YEARS_AHEAD = 50
#: fx_rate.rate_type is String(40).
RATE_TYPE_LENGTH = 40


def held_rate(rate: Decimal) -> Decimal | None:
    """`rate` as the ledger stores it (8 places, ROUND_HALF_UP), or None when it cannot hold it:
    not a positive finite number, 10^10 or more, or changed by rounding by more than
    MAX_RATE_ROUNDING of itself."""
    if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
        return None  # (checked before quantize: 1e30 has more digits than the context holds)
    stored = rate.quantize(RATE_Q, rounding=ROUND_HALF_UP)
    if stored == 0 or stored >= MAX_RATE:
        return None  # 0 is never a rate (1e-999999999 quantizes to 0E-8)
    # stored >= 1e-8, so rate >= 5e-9 here: the 0.1% bound is at least 5e-12, far inside the
    # exponent range, and the exact difference needs at most 18 + the rate's own digits.
    with localcontext(_EXACT):
        if abs(stored - rate) > rate * MAX_RATE_ROUNDING:
            return None
    return stored


def rate_problem(rate: Decimal, shown: str | None = None) -> tuple[str, str] | None:
    """(reason code, detail) when the ledger cannot hold `rate`, else None. `shown` is the rate as
    its source wrote it (default: the Decimal's own text). Codes: bad_rate (not a positive
    number), rate_out_of_range (10^10 or more), rate_out_of_precision (8 places lose it)."""
    text = shown if shown is not None else str(rate)
    if not rate.is_finite() or rate <= 0:
        return "bad_rate", f"rate must be positive, got {text}"
    if held_rate(rate) is not None:
        return None
    stored = rate.quantize(RATE_Q, rounding=ROUND_HALF_UP) if rate < MAX_RATE else rate
    if stored >= MAX_RATE:
        return "rate_out_of_range", f"rate {text} is too large: rates must be below 10,000,000,000"
    return (
        "rate_out_of_precision",
        f"rate {text} cannot be held at 8 decimal places: it would be stored as {stored:f}, "
        f"more than {MAX_RATE_ROUNDING:%} away",
    )


def latest_rate_day(today: date) -> date:
    """The latest valid_from a rate may have, seen from `today`."""
    return date(today.year + RATE_YEARS_AHEAD, 12, 31)


def rate_day_problem(day: object, today: date) -> tuple[str, str] | None:
    """(reason code, detail) for a valid_from that is not a date (bad_date) or lies outside
    EARLIEST_RATE_DAY .. latest_rate_day(today) (date_out_of_range), else None."""
    if not isinstance(day, date) or isinstance(day, datetime):
        return "bad_date", f"valid_from is not a date: {day!r}"
    latest = latest_rate_day(today)
    if not EARLIEST_RATE_DAY <= day <= latest:
        return (
            "date_out_of_range",
            f"valid_from {day.isoformat()} is outside {EARLIEST_RATE_DAY.isoformat()} .. "
            f"{latest.isoformat()}",
        )
    return None


def rate_record_problem(
    record: FxRateRecord, today: date, shown_rate: str | None = None
) -> tuple[str, str] | None:
    """(reason code, detail) when `record` cannot be stored, else None: its currencies, its
    rate_type, its rate (rate_problem) and its valid_from (rate_day_problem, from `today`)."""
    if not (is_currency(record.from_ccy) and is_currency(record.to_ccy)):
        return "unknown_currency", f"unknown currency in {record.from_ccy}/{record.to_ccy}"
    rate_type = record.rate_type
    if not rate_type or len(rate_type) > RATE_TYPE_LENGTH or "\x00" in rate_type:
        return (
            "bad_rate_type",
            f"rate_type must be 1 to {RATE_TYPE_LENGTH} characters without NUL, got {rate_type!r}",
        )
    if not isinstance(record.rate, Decimal):
        return "bad_rate", f"rate is not a Decimal: {record.rate!r}"
    return rate_problem(record.rate, shown_rate) or rate_day_problem(record.valid_from, today)
