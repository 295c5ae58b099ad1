"""Fusion's value formats, read into the ledger's types. Each raises ValueError naming the
attribute, so a row that cannot be read goes to `Page.rejected`.

- dates (`ExpenditureItemDate`, `ProjectStartDate`): `"2025-03-31"`, the business date as
  the source meant it (never through UTC);
- timestamps (`LastUpdateDate`, `CreationDate`): ISO 8601 with milliseconds and an offset,
  `"2025-03-31T17:04:05.123+00:00"`, read as UTC;
- numbers: JSON numbers, parsed from the text as Decimal (`parse_float=Decimal`), never
  through float; a number that arrives as a string is read too, anything else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pmo_ledger.ledger.time.dates import business_date, utc_timestamp

Row = Mapping[str, Any]


def text(row: Row, name: str) -> str | None:
    """A string attribute, stripped; None when absent, null or blank."""
    value = row.get(name)
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def key(row: Row, name: str) -> str:
    """An identifier (`ProjectId`, `ExpenditureItemId`) as text; refused when missing."""
    value = row.get(name)
    if value is None or isinstance(value, bool) or str(value).strip() == "":
        raise ValueError(f"{name} is empty")
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()


def day(row: Row, name: str) -> date | None:
    """A date attribute; None when null."""
    value = row.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:  # Fusion's own form, `2025-03-31`: the C parser, no regex
            return date.fromisoformat(value)
        except ValueError:
            pass
    try:
        return business_date(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def stamp(row: Row, name: str = "LastUpdateDate") -> datetime:
    """A timestamp attribute as UTC; refused when null (the cursor needs it)."""
    value = row.get(name)
    if value is None or value == "":
        raise ValueError(f"{name} is empty")
    if isinstance(value, str) and len(value) == 29 and value[10] == "T":
        try:  # Fusion's own form, `2025-03-31T17:04:05.123+00:00`: the C parser
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    try:
        return utc_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def number(row: Row, name: str) -> Decimal | None:
    """A number attribute as Decimal; None when null. Refuses booleans, NaN and text that is
    no number (`"12,50"`, `"n/a"`)."""
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is no number")
    if isinstance(value, Decimal | int):
        out = Decimal(value)
    elif isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: {value!r} is no number") from None
    else:
        raise ValueError(f"{name}: {value!r} is no number")
    if not out.is_finite():
        raise ValueError(f"{name}: {value!r} is no number")
    return out


def wire_time(at: datetime) -> str:
    """A timestamp as a `q` literal: ISO 8601 in UTC with milliseconds,
    `2025-03-31T17:04:05.123+00:00` (the form Fusion answers in)."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+00:00"


def quote(value: str) -> str:
    """A string literal of a `q` expression: single quotes, an inner quote doubled."""
    return "'" + value.replace("'", "''") + "'"
