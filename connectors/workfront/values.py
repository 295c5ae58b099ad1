"""Field values of a Workfront row (JSON parsed with Decimal numbers), each read or refused
with a ValueError that names the field, so a bad row becomes a `Rejected` row.

Units (source-apis.md section 7): timestamps look like `2010-08-30T09:00:00:000-0600` (a colon
before the milliseconds, an offset without one) and become UTC; dates of work (`entryDate` of
an hour, `effectiveDate` of an expense, planned dates) are business dates, kept as stated;
`workRequired`, `actualWorkRequired` and `durationMinutes` are minutes, `hours` and `work` are
hours; money and hours are exact Decimals with at most 4 places (rates 8), a binary-float
tail aside; computed ratios (percent complete, durations, lags) are rounded half-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pmo_ledger.ledger.time.dates import business_date, utc_timestamp

Row = Mapping[str, Any]
_MINUTES_PER_HOUR = Decimal(60)


def get(row: Row, name: str) -> Any:
    """The field's value (a custom field `DE:Name` as named); a nested `a:b` path reads the
    object `a`; None for null or ''."""
    if name in row:
        value = row[name]
    else:
        value = row
        for part in name.split(":"):
            value = value.get(part) if isinstance(value, Mapping) else None
    return None if value == "" else value


def text(row: Row, name: str) -> str | None:
    value = get(row, name)
    return None if value is None else str(value)


#: How far from a value at the ledger's scale a number may be and still be that value with a
#: binary-float tail (`121.00000000000001`, as a store of doubles prints it).
FLOAT_NOISE = Decimal("1e-9")


def decimal(row: Row, name: str, places: int = 4, *, ratio: bool = False) -> Decimal | None:
    """An exact number at `places` places. Refuses text, booleans, NaN and, for money and
    hours, more places than the ledger keeps (as the Salesforce connector does): only a
    binary-float tail (within FLOAT_NOISE of a value at scale) is rounding noise, rounded
    half-up. A `ratio` (percentages, durations, lags: figures Workfront computes, such as
    33.333333333333336) is rounded half-up to `places`."""
    value = get(row, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise ValueError(f"{name} is not a number: {value!r}")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} is not a finite number: {value!r}")
    try:
        exact = number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{name} is too large: {value!r}") from None
    if exact != number and not ratio and abs(exact - number) > FLOAT_NOISE:
        raise ValueError(f"{name} has more than {places} decimal places: {value!r}")
    return exact


def at_scale(value: object, places: int = 4) -> Decimal:
    """An aggregate Workfront summed (possibly in floats) at the ledger's scale, half-up."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def hours_from_minutes(row: Row, name: str) -> Decimal | None:
    """A minutes field as hours at 4 places, rounded half-up (480 -> 8.0000)."""
    minutes = decimal(row, name, ratio=True)
    if minutes is None:
        return None
    return (minutes / _MINUTES_PER_HOUR).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def day(row: Row, name: str) -> date | None:
    """A date as the business date Workfront states (never moved through UTC)."""
    value = get(row, name)
    if value is None:
        return None
    try:
        return business_date(str(value))
    except ValueError:
        raise ValueError(f"{name} is not a date: {value!r}") from None


def stamp(row: Row, name: str = "lastUpdateDate") -> datetime | None:
    """A Workfront timestamp as UTC."""
    value = get(row, name)
    if value is None:
        return None
    try:
        return utc_timestamp(str(value))
    except ValueError:
        raise ValueError(f"{name} is not a timestamp: {value!r}") from None


def flag(row: Row, name: str) -> bool | None:
    value = get(row, name)
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{name} is not true or false: {value!r}")


def plain(value: Any) -> Any:
    """A row as JSON for quarantine: Decimals as their text, nested objects kept."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value
