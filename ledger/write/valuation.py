"""Cost rates in force on a work date, per resource or else per role (rule 9)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ResourceRate


class CostRates:
    """Rates of these resources and roles, loaded once per batch; `rate` bisects by date."""

    def __init__(self, session: Session, resource_ids: set[int], roles: set[str]) -> None:
        self._series: dict[tuple[str, Any], list[tuple[date, Decimal, str]]] = defaultdict(list)
        if not resource_ids and not roles:
            return
        rr = ResourceRate
        rows = session.execute(
            select(rr.resource_id, rr.role, rr.effective_from, rr.cost_rate, rr.currency).where(
                or_(
                    rr.resource_id.in_(resource_ids),
                    and_(rr.resource_id.is_(None), rr.role.in_(roles)),
                )
            )
        )
        for resource_id, role, effective_from, cost_rate, currency in rows:
            key = ("resource", resource_id) if resource_id is not None else ("role", role)
            self._series[key].append((effective_from, cost_rate, currency))
        for series in self._series.values():
            series.sort()

    def rate(
        self, resource_id: int | None, role: str | None, day: date
    ) -> tuple[Decimal, str] | None:
        for key in (("resource", resource_id), ("role", role)):
            series = self._series.get(key)
            if series:
                i = bisect.bisect_right([p[0] for p in series], day) - 1
                if i >= 0:
                    return series[i][1], series[i][2]
        return None
