"""Field values of a Salesforce row, read the same way from REST JSON and Bulk 2.0 CSV.

REST rows are typed (numbers already Decimal through `parse_float`, booleans, nested
relationship objects); Bulk 2.0 rows are text keyed by the dotted field path, with the empty
string for null. Each reader takes either and raises ValueError naming the field, so a row that
cannot be read becomes a `Rejected` row, never an exception out of the generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pmo_ledger.ledger.time.dates import business_date, utc_timestamp

Row = Mapping[str, Any]

#: Places the ledger keeps: money Numeric(20,4), hours Numeric(14,4), rates Numeric(18,8).
PLACES = 4
RATE_PLACES = 8


def raw(row: Row, path: str) -> Any:
    """The value at `path` ('Field__c' or 'Lookup__r.Name'); None when absent or null."""
    if path in row:  # REST top-level field, or a Bulk 2.0 column named by the dotted path
        value = row[path]
    else:
        value = row
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
    return None if value == "" else value


def text(row: Row, path: str | None) -> str | None:
    """A string field (None for null or the empty string)."""
    if path is None:
        return None
    value = raw(row, path)
    return None if value is None else str(value)


def number(row: Row, path: str | None, places: int = PLACES) -> Decimal | None:
    """An exact Decimal with at most `places` places (Java's `9.9213206E7` is 99213206).
    Raises ValueError for text that is not a number, too large, or that needs more places."""
    if path is None:
        return None
    value = raw(row, path)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{path} is a boolean, not a number: {value!r}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{path} is not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{path} is not a finite number: {value!r}")
    try:
        exact = d.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise ValueError(f"{path} is too large: {value!r}") from None
    if exact != d:
        raise ValueError(f"{path} has more than {places} decimal places: {value!r}")
    return exact


def flag(row: Row, path: str | None) -> bool | None:
    """A checkbox (true/false, also as Bulk 2.0 text); None when null or unmapped."""
    if path is None:
        return None
    value = raw(row, path)
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(f"{path} is not a checkbox value: {value!r}")


def day(row: Row, path: str | None) -> date | None:
    """A date field as the business date the source states."""
    if path is None:
        return None
    value = raw(row, path)
    if value is None:
        return None
    try:
        return business_date(str(value))
    except ValueError:
        raise ValueError(f"{path} is not a date: {value!r}") from None


def stamp(row: Row, path: str) -> datetime | None:
    """A datetime field ('2025-03-04T10:15:02.000+0000' or Bulk's '...Z') as UTC."""
    value = raw(row, path)
    if value is None:
        return None
    try:
        return utc_timestamp(str(value))
    except ValueError:
        raise ValueError(f"{path} is not a datetime: {value!r}") from None


def plain(row: Row) -> dict[str, Any]:
    """The row as JSON-ready data for quarantine (Decimals as text, attributes dropped)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out[key] = plain(value)
        elif isinstance(value, Decimal):
            out[key] = str(value)
        else:
            out[key] = value
    return out
