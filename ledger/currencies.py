"""ISO 4217 currencies and their minor units, from CLDR (via Babel), and money rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

from pmo_ledger.ledger.types import MAX_AMOUNT

# Codes that are not money a project can spend: test, no-currency and precious-metal codes.
_NOT_MONEY = {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD"}


@cache
def known_currencies() -> frozenset[str]:
    """Every ISO 4217 code CLDR knows, minus test, metal and no-currency codes."""
    return frozenset(c for c in list_currencies() if len(c) == 3 and c not in _NOT_MONEY)


def is_currency(code: str | None) -> bool:
    """True for a known ISO 4217 money code."""
    return code is not None and code in known_currencies()


@cache
def minor_unit(code: str) -> int:
    """Digits after the decimal point of `code` (USD 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(code))


def round_money(value: Decimal, code: str) -> Decimal:
    """`value` rounded to the minor unit of `code`, ROUND_HALF_UP (rule 6)."""
    return value.quantize(_minor_quantum(code), rounding=ROUND_HALF_UP)


@cache
def _minor_quantum(code: str) -> Decimal:
    """1 in the minor unit of `code` (0.01 for USD): made once per currency, not per line."""
    return Decimal(1).scaleb(-minor_unit(code))


def in_range(value: Decimal | None) -> bool:
    """False for amounts beyond +/-900,000,000,000,000 (they do not fit the SQLite encoding)."""
    return value is None or abs(value) <= MAX_AMOUNT
