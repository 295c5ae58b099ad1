"""Checks of the settings values several connectors share: a currency code, a time zone name.

Each returns the value unchanged or raises ValueError with the message pydantic shows, so a
connector's `field_validator` is one call.
"""

from __future__ import annotations

import re
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: An ISO 4217 currency code as the settings take it: three capital letters.
CURRENCY = re.compile(r"[A-Z]{3}")


@overload
def currency_code(value: str, like: str = ...) -> str: ...
@overload
def currency_code(value: None, like: str = ...) -> None: ...
@overload
def currency_code(value: str | None, like: str = ...) -> str | None: ...
def currency_code(value: str | None, like: str = "EUR") -> str | None:
    """`value` if it is a currency code (None passes); `like` names the example in the error."""
    if value is not None and not CURRENCY.fullmatch(value):
        raise ValueError(f"expected an ISO currency code like {like}, got {value!r}")
    return value


def time_zone_name(value: str) -> str:
    """`value` if the zone database knows it (e.g. Europe/Berlin)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone name like Europe/Berlin: {value!r}") from None
    return value
