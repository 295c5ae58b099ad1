"""Exact money, rate and hours columns on both engines.

PostgreSQL stores ``Numeric(p, s)``. SQLite stores NUMERIC as a floating point value, so
there every money, rate and hours column is a scaled INTEGER (``x10^scale``) behind this one
TypeDecorator: the Python side always sees ``Decimal``, never a float, and SQL on SQLite sums
the integers. Values are quantized to the column's scale with ROUND_HALF_UP on the way in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Largest absolute amount the ledger accepts (rule 6): x10^4 still fits a signed 64-bit integer.
MAX_AMOUNT = Decimal("900000000000000")


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column: ``Numeric(precision, scale)`` or, on SQLite, ``BIGINT`` x10^scale."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self.quantum = Decimal(1).scaleb(-scale)
        self.factor = Decimal(10) ** scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("ExactDecimal refuses float values: pass a Decimal or a string")
        q = Decimal(value).quantize(self.quantum, rounding=ROUND_HALF_UP)
        if dialect.name == "sqlite":
            return int(q * self.factor)
        return q

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):  # an expression that left the integer domain
                raise TypeError("ExactDecimal read a REAL from SQLite: the query lost exactness")
            # Exactly (int / 10^scale) at the column's scale: the integer's digits with the
            # exponent moved (an int64 has 19 digits, within the context's 28: no rounding).
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(self.quantum)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


def as_decimal(value: Any) -> Decimal:
    """A money or hours value as a query returns it (Decimal, exact TEXT, int; NULL as 0)."""
    return value if isinstance(value, Decimal) else Decimal(str(value if value is not None else 0))


def Money() -> ExactDecimal:
    """Amounts: Numeric(20,4); on SQLite an integer x10^4."""
    return ExactDecimal(20, 4)


def Rate() -> ExactDecimal:
    """FX and cost rates: Numeric(18,8); on SQLite an integer x10^8."""
    return ExactDecimal(18, 8)


def Hours() -> ExactDecimal:
    """Hours and quantities: Numeric(14,4); on SQLite an integer x10^4."""
    return ExactDecimal(14, 4)


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC-aware timestamp. Naive values are refused; SQLite's naive reads come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text from an expression
            value = datetime.fromisoformat(value)
        result: datetime = (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )
        return result
