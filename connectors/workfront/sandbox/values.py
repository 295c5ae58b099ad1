"""Values on the wire, written the way Workfront writes them, and filter values read the way
Workfront reads them.

- Datetimes: `2010-08-30T09:00:00:000-0600`: a colon before the milliseconds and the account's
  offset without a colon, which moves with daylight saving (api-basics.md; fact sheet 2.3, 7).
- Business dates (an hour's `entryDate`, an expense's `effectiveDate`): midnight of that day in
  the account's zone, in the same form, so the date a client reads is the date it states.
- Numbers: JSON numbers with the stored decimal's exact text (`7.5`, `1250.40`), never through
  a float, so `Decimal` of the token is the value the fake holds.
- Filter values: ISO 8601 (`2025-03-01T00:00:00Z`, `...255-05:00`), Workfront's own form,
  a plain date, and the wildcards `$$NOW` and `$$TODAY` with `+/-Nd` (api-sync-data.md).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from pmo_ledger.connectors.workfront.sandbox.schema import FieldType

#: What the fake stores for a field (None is null).
Value = str | bool | int | Decimal | date | datetime | None


def wire_datetime(value: datetime, zone: tzinfo) -> str:
    """`2025-03-04T10:15:02:117-0700`: the instant in the account's zone."""
    local = value.astimezone(zone)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S:")
        + f"{local.microsecond // 1000:03d}"
        + (local.strftime("%z"))
    )


def wire_date(value: date, zone: tzinfo) -> str:
    """A business date: midnight of that day in the account's zone."""
    midnight = datetime.combine(value, time(0), tzinfo=zone)
    return wire_datetime(midnight, zone)


def wire_value(value: Value, kind: FieldType, zone: tzinfo, *, plain_dates: bool = False) -> object:
    """A stored value as the JSON value Workfront writes for a field of `kind`;
    `plain_dates` writes a business date as `2025-03-03` instead (the variant a client should
    also read)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return wire_datetime(value, zone)
    if isinstance(value, date):
        if kind is FieldType.DATE and not plain_dates:
            return wire_date(value, zone)
        return value.isoformat()
    return value


_NUMBER_MARK = "\u0000n\u0000"


def _marked(value: object) -> str:
    """A Decimal as a marked string (json calls this for the types it cannot write)."""
    if isinstance(value, Decimal):
        return f"{_NUMBER_MARK}{format(value, 'f')}{_NUMBER_MARK}"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_MARKED = re.compile('"\\\\u0000n\\\\u0000(-?[0-9.]+)\\\\u0000n\\\\u0000"')


def dumps(payload: object) -> str:
    """JSON text with every Decimal written as a number token of its exact text."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_marked)
    return _MARKED.sub(r"\1", text)


# --- filter values -----------------------------------------------------------------------

_WF_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?::(\d{3}))?([+-]\d{4})$")
_WILDCARD = re.compile(r"^\$\$(TODAY|NOW)(?:([+-])(\d+)([dhmwy]))?$")
_UNITS = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}


class BadValue(ValueError):
    """A filter value that does not read as the field's type."""


def parse_datetime(text: str, zone: tzinfo, now: datetime) -> datetime:
    """A filter value for a datetime field (aware): ISO 8601, Workfront's form, a plain
    date (midnight in the account's zone), or `$$TODAY` / `$$NOW` with `+/-N(d|h|m|w|y)`."""
    text = text.strip()
    wildcard = _WILDCARD.match(text)
    if wildcard:
        base = now.astimezone(zone)
        if wildcard.group(1) == "TODAY":
            base = base.replace(hour=0, minute=0, second=0, microsecond=0)
        if wildcard.group(2):
            step = _UNITS[wildcard.group(4)] * int(wildcard.group(3))
            base = base + step if wildcard.group(2) == "+" else base - step
        return base
    match = _WF_DATETIME.match(text)
    if match:
        day, hh, mm, ss, ms, offset = match.groups()
        text = f"{day}T{hh}:{mm}:{ss}.{ms or '000'}{offset}"
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadValue(f"not a date: {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def parse_filter(text: str, kind: FieldType, zone: tzinfo, now: datetime) -> Value:
    """A filter value as the stored type of a field of `kind`."""
    if kind in (FieldType.DATETIME, FieldType.DATE):
        moment = parse_datetime(text, zone, now)
        return moment if kind is FieldType.DATETIME else moment.astimezone(zone).date()
    if kind is FieldType.NUMBER:
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise BadValue(f"not a number: {text!r}") from exc
    if kind is FieldType.INT:
        try:
            return int(text)
        except ValueError as exc:
            raise BadValue(f"not an integer: {text!r}") from exc
    if kind is FieldType.BOOL:
        return text.strip().lower() == "true"
    return text
