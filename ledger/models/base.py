"""Declarative base, naming convention and the column helpers every model uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

from pmo_ledger.ledger.types import UtcDateTime

__all__ = ["NAMING_CONVENTION", "Base", "UtcDateTime", "table_of", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current UTC time, timezone-aware."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's Table. SQLAlchemy types ``__table__`` as a FromClause; every model here is
    mapped to a plain Table, so this only narrows the type (no runtime effect)."""
    return cast(Table, model.__table__)
