"""Values on the wire, written the way Salesforce writes them, and values coming in from the
control API, checked against the field type.

Numbers are the point of this module. Salesforce stores currency as a decimal but serializes
REST JSON numbers through a Java double, so `Double.toString` decides the text: plain with at
least one fractional digit when 1e-3 <= |x| < 1e7 (`15000.0`, `7.5`), scientific otherwise
(`9.9213206E7`, `1.0E-4`). `json.dumps` cannot write that, so `dumps` here writes every token
itself. Datetimes are UTC with milliseconds: `2025-03-04T10:15:02.000+0000` in JSON,
`2025-03-04T10:15:02.000Z` in Bulk API 2.0 CSV.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pmo_ledger.connectors.salesforce.sandbox.schema import FieldType

#: What the org stores for a field (None is null).
Value = str | bool | int | Decimal | date | datetime | None


def _shortest(value: Decimal | float) -> Decimal:
    """The shortest decimal that reads back as the same double (what Java prints)."""
    return Decimal(repr(float(value)))


def java_double(value: Decimal | float) -> str:
    """`Double.toString` of the double nearest to `value`."""
    number = _shortest(value)
    if number.is_zero():
        return "-0.0" if number.is_signed() else "0.0"
    sign = "-" if number.is_signed() else ""
    magnitude = abs(number)
    if Decimal("0.001") <= magnitude < Decimal(10_000_000):
        return sign + plain(magnitude)
    digits = "".join(str(d) for d in magnitude.as_tuple().digits).rstrip("0") or "0"
    exponent = magnitude.adjusted()
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def plain(value: Decimal | float) -> str:
    """A number as a plain decimal with at least one fractional digit (`15000.0`, `0.0001`),
    from the double Salesforce holds: the Bulk API 2.0 CSV form."""
    number = _shortest(value)
    text = format(number, "f")
    if "." not in text:
        return text + ".0"
    whole, fraction = text.split(".")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


def json_datetime(value: datetime) -> str:
    """`2025-03-04T10:15:02.000+0000` (UTC, milliseconds)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def csv_datetime(value: datetime) -> str:
    """`2025-03-04T10:15:02.000Z` (UTC, milliseconds)."""
    return json_datetime(value).removesuffix("+0000") + "Z"


def wire(value: Value) -> Any:
    """A stored value made ready for `dumps`: dates and datetimes become their strings,
    numbers stay Decimal (written by `dumps`), the rest is already JSON."""
    if isinstance(value, datetime):
        return json_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_cell(value: Value) -> str | None:
    """A stored value as a Bulk API 2.0 CSV cell (None: null, written as an empty field)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return csv_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def dumps(value: Any) -> str:
    """JSON text with Salesforce's number tokens: Decimal and float as Java doubles, int as
    integers. Mappings keep their order (records list fields in SELECT order)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        return java_double(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def coerce(kind: FieldType, value: object) -> Value:
    """A value given to the control API, checked and converted for a field of type `kind`:
    numbers from int/str/Decimal (a float is refused: it is not exact), dates from ISO
    strings, datetimes must be timezone-aware. Raises ValueError / TypeError."""
    if value is None:
        return None
    if kind in (FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT):
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise TypeError(f"a {kind} value is an int, str or Decimal, not {value!r}")
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    if kind is FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an int value is needed, not {value!r}")
        return value
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise TypeError(f"a boolean value is needed, not {value!r}")
        return value
    if kind is FieldType.DATETIME:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError(f"a timezone-aware datetime is needed, not {value!r}")
        return value.astimezone(UTC)
    if kind is FieldType.DATE:
        if isinstance(value, str):
            return date.fromisoformat(value)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"a date is needed, not {value!r}")
        return value
    if not isinstance(value, str):
        raise TypeError(f"a {kind} value is a str, not {value!r}")
    return value
