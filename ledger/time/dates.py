"""Source dates and timestamps, read the way the source meant them (rule 10).

Two questions, two helpers:

- `business_date` answers "which day did the source mean?" (`posted_on`, work dates). A timestamp
  keeps its own wall-clock date in its own offset: '2025-10-31T19:00:00-06:00' is October 31st,
  although it is already November 1st in UTC. Never converted through UTC.
- `utc_timestamp` answers "when did it happen?" for technical `*_at` columns: a UTC-aware
  datetime. A value without an offset is taken as UTC.

String forms accepted by both:

=====================================  ==========================================
'2025-10-31'                           ISO date
'20251031'                             SAP DATS ('00000000', SAP's empty date, is refused)
'2025-10-31T19:00:00-06:00'            ISO 8601 with an offset ('Z', '+00:00', '+0000', '+00')
'2025-10-31T19:00:00.000+0000'         Salesforce (no colon in the offset)
'2025-10-31T19:00:00:000-0600'         Workfront (milliseconds after a colon)
'2025-10-31 19:00:00'                  space separator, no offset (naive)
=====================================  ==========================================

Bad input raises `ValueError` naming the value, so a connector can put the row in `rejected`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SAP_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATETIME = re.compile(
    r"""
    (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})
    [T\ ]
    (?P<h>\d{2}):(?P<mi>\d{2})
    (?::(?P<s>\d{2})
        (?:[.,:](?P<frac>\d{1,9}))?      # '.000' ISO and Salesforce, ':000' Workfront
    )?
    \s*
    (?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?     # 'Z', '+05:30', '+0530', '+05'
    """,
    re.VERBOSE,
)

_EXPECTED = (
    "expected a date like 2025-10-31, 20251031 or a timestamp like 2025-10-31T19:00:00-06:00"
)


def _bad(value: object, why: str = _EXPECTED) -> ValueError:
    return ValueError(f"{why}, got {value!r}")


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"UTC offset {text} out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse(value: str) -> date | datetime:
    """A string as a `date` (date-only forms) or a `datetime` (naive when it has no offset)."""
    text = value.strip()
    if text == "00000000":
        raise _bad(value, "SAP's empty date 00000000 is not a date")
    try:
        if m := _ISO_DATE.fullmatch(text) or _SAP_DATE.fullmatch(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DATETIME.fullmatch(text):
            tz = _offset(m["tz"]) if m["tz"] else None
            micro = int((m["frac"] or "0")[:6].ljust(6, "0"))
            y, mo, d, h, mi, s = map(int, (m["y"], m["mo"], m["d"], m["h"], m["mi"], m["s"] or "0"))
            return datetime(y, mo, d, h, mi, s, micro, tzinfo=tz)
    except ValueError as exc:  # a field out of range: month 13, February 30th, hour 24
        raise _bad(value, f"not a valid date or time ({exc})") from exc
    raise _bad(value)


def business_date(value: object) -> date:
    """The calendar date the source meant, as stated in the source's own offset.

    Accepts a `date` (returned as is), a `datetime` (its own wall-clock date, aware or naive) or
    one of the string forms in the module docstring. Raises `ValueError` naming the value.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise _bad(value, f"expected a date, datetime or string, not {type(value).__name__}")
    parsed = _parse(value)
    return parsed.date() if isinstance(parsed, datetime) else parsed


def utc_timestamp(value: object) -> datetime:
    """A technical timestamp as a UTC-aware datetime.

    Accepts a `datetime` (naive is taken as UTC), a `date` (midnight UTC) or one of the string
    forms in the module docstring (no offset: UTC; date-only: midnight UTC).
    Raises `ValueError` naming the value.
    """
    if isinstance(value, str):
        parsed: date | datetime = _parse(value)
    elif isinstance(value, date):
        parsed = value
    else:
        raise _bad(value, f"expected a datetime, date or string, not {type(value).__name__}")
    if not isinstance(parsed, datetime):
        return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def http_date(value: str | None) -> datetime | None:
    """An HTTP date header (`Date`, `Retry-After`: "Mon, 02 Mar 2026 09:00:30 GMT") as a
    UTC-aware datetime; None when absent or unreadable (a header is the source's, never
    trusted to parse). A date without a zone is taken as UTC, as HTTP dates are."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
