"""A finding: what one rule found about one subject, before it meets the variance lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pmo_ledger.ledger.reconcile.settings import Severity

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Finding:
    """Keyed like a variance: (rule, subject_type, subject_id, dimension, period). `period` is
    '' for a figure to date (cumulative); `dimension` a cost type, 'total', 'hours', ..."""

    rule: str
    subject_type: str  # project | resource | source
    subject_id: str
    dimension: str
    period: str
    severity: Severity
    message: str
    measures: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    project_id: int | None = None  # the project it concerns, for scoped runs and views

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.rule, self.subject_type, self.subject_id, self.dimension, self.period)


def money(value: Decimal | None) -> str | None:
    """A JSON-ready amount rounded half up to the cent."""
    return None if value is None else str(value.quantize(CENT, ROUND_HALF_UP))


def ratio(value: Decimal | None) -> str | None:
    """A JSON-ready ratio or percent to 4 places."""
    return None if value is None else str(value.quantize(RATIO, ROUND_HALF_UP))


def pct_over(actual: Decimal, planned: Decimal) -> Decimal | None:
    """How far `actual` is above `planned`, in percent of planned; None when planned is 0."""
    if planned == 0:
        return None
    return (actual - planned) * 100 / planned


def knobs(**values: Any) -> dict[str, Any]:
    """Thresholds as stored with a variance (Decimals as text)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}
