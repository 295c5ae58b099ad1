"""Stored exchange rates as `pmo-ledger fx list` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import FxRate


@dataclass(frozen=True, slots=True)
class StoredRate:
    """1 from_ccy = rate to_ccy from valid_from on, as the source stated it."""

    source: str
    rate_type: str
    from_ccy: str
    to_ccy: str
    valid_from: date
    rate: Decimal


def fx_rates(session: Session, currency: str | None = None, limit: int = 200) -> list[StoredRate]:
    """Stored rates, newest first, optionally those touching one currency."""
    q = select(FxRate)
    if currency:
        q = q.where((FxRate.from_ccy == currency) | (FxRate.to_ccy == currency))
    q = q.order_by(FxRate.valid_from.desc(), FxRate.from_ccy).limit(limit)
    return [
        StoredRate(r.source, r.rate_type, r.from_ccy, r.to_ccy, r.valid_from, r.rate)
        for r in session.scalars(q)
    ]
