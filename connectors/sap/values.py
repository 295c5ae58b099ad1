"""SAP field values as RFC_READ_TABLE and OData V2 give them, read into the ledger's types.

RFC_READ_TABLE returns character images: dates `YYYYMMDD` (`00000000` and blanks are no date),
packed amounts as text with a trailing minus (`1234.50-`; a leading one is read too), NUMC keys
with their leading zeros (kept as text: `00000001` is not `1`). OData V2 gives `Edm.DateTime` as
`/Date(<ms since epoch>)/` (DateTimeOffset may add `+0000`) and `Edm.Decimal` as strings. Every
reader raises ValueError naming the field, so a row that cannot be read becomes a `Rejected`
row, never an exception out of a generator.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: Places the ledger keeps for money (Numeric(20,4)) and rates (Numeric(18,8)).
PLACES = 4
RATE_PLACES = 8
_ODATA_DATE = re.compile(r"/Date\((-?\d+)([+-]\d+)?\)/")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sap_date(value: str | None, field: str) -> date | None:
    """`YYYYMMDD` -> date; `00000000`, blanks and None are no date. Raises ValueError."""
    text = (value or "").strip()
    if not text or text == "00000000":
        return None
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{field} is not a YYYYMMDD date: {value!r}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError(f"{field} is not a valid date: {value!r}") from None


def sap_time(value: str | None, field: str) -> tuple[int, int, int] | None:
    """`HHMMSS` -> (h, m, s); blanks are None. Raises ValueError."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) != 6 or not text.isdigit() or int(text[:2]) > 23 or int(text[2:4]) > 59:
        raise ValueError(f"{field} is not an HHMMSS time: {value!r}")
    return int(text[:2]), int(text[2:4]), min(int(text[4:]), 59)


def sap_amount(value: str | Decimal | int | None, field: str, places: int = PLACES) -> Decimal:
    """A CURR/DEC/QUAN image as Decimal: `1234.50-` (trailing minus, SAP's own), `-1234.50`,
    blanks as 0. Never through float. Raises ValueError for anything else or more places."""
    if isinstance(value, bool):
        raise ValueError(f"{field} is not an amount: {value!r}")
    if isinstance(value, Decimal | int):
        d = Decimal(value)
    else:
        text = (value or "").strip().replace(" ", "")
        if not text:
            return Decimal(0).quantize(Decimal(1).scaleb(-places))
        negative = text.endswith("-")
        if negative:
            text = text[:-1]
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            raise ValueError(f"{field} is not an amount: {value!r}")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{field} is not an amount: {value!r}") from None
        if negative:
            if d < 0:
                raise ValueError(f"{field} has two minus signs: {value!r}")
            d = -d
    if not d.is_finite():
        raise ValueError(f"{field} is not a finite amount: {value!r}")
    try:
        exact = d.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise ValueError(f"{field} is too large: {value!r}") from None
    if exact != d:
        raise ValueError(f"{field} has more than {places} decimal places: {value!r}")
    return exact + 0  # -0 -> 0


def odata_datetime(value: object, field: str) -> datetime | None:
    """`/Date(1700000000000)/` (or `/Date(ms+0060)/`) -> UTC datetime; None and "" are None.
    OData V2 counts the milliseconds in UTC; a `+mmmm` suffix is the offset in MINUTES of
    the local time it was stated in, which does not move the instant: it is ignored."""
    if value is None or value == "":
        return None
    m = _ODATA_DATE.fullmatch(str(value))
    if m is None:
        raise ValueError(f"{field} is not an OData /Date(ms)/ value: {value!r}")
    return _EPOCH + timedelta(milliseconds=int(m[1]))


def odata_date(value: object, field: str) -> date | None:
    """An `Edm.DateTime` holding a business date (midnight UTC) -> date."""
    stamp = odata_datetime(value, field)
    return stamp.date() if stamp is not None else None


def inverted_date(value: str | None, field: str) -> date | None:
    """TCURR's `GDATU`: 99999999 minus YYYYMMDD, as text. Raises ValueError."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) != 8:
        raise ValueError(f"{field} is not an inverted date: {value!r}")
    return sap_date(f"{99999999 - int(text):08d}", field)


def odata_literal_datetime(day: date) -> str:
    """A `$filter` literal for an Edm.DateTime: `datetime'2025-01-01T00:00:00'`."""
    return f"datetime'{day.isoformat()}T00:00:00'"


def tcurr_rate(ukurs: str, ffact: str, tfact: str) -> Decimal:
    """1 FCURR = rate TCURR from a TCURR row: a positive UKURS is a direct quotation
    (UKURS * TFACT / FFACT), a negative one indirect (TFACT / (|UKURS| * FFACT)); 8 places.
    Raises ValueError for a zero rate or factor."""
    rate = sap_amount(ukurs, "UKURS", RATE_PLACES)
    f_factor = sap_amount(ffact or "1", "FFACT", RATE_PLACES)
    t_factor = sap_amount(tfact or "1", "TFACT", RATE_PLACES)
    if rate == 0 or f_factor == 0 or t_factor == 0:
        raise ValueError(f"TCURR has a zero rate or factor: {ukurs!r} {ffact!r} {tfact!r}")
    value = rate * t_factor / f_factor if rate > 0 else t_factor / (-rate * f_factor)
    return value.quantize(Decimal(1).scaleb(-RATE_PLACES), rounding=ROUND_HALF_UP)
