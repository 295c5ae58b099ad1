"""What the Fusion flavor's tests share: the fake pod, a client on it, and what the pod's
rows add up to (computed from the pod's own rows, not through the connector)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from pmo_ledger.connectors.oracle.fusion.client import FusionClient
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox


@pytest.fixture
def pod() -> Iterator[FusionSandbox]:
    """The fake pod with dirty rows, capped at 499 rows a page."""
    with FusionSandbox(FusionData(dirty=True)) as server:
        yield server


def client_on(pod: FusionSandbox, **settings: Any) -> FusionClient:
    """A client on the pod (basic auth unless `oauth=True`), retries without sleeping."""
    oauth = bool(settings.pop("oauth", False))
    clock = settings.pop("clock", None)
    s = FusionSettings(**pod.settings(oauth=oauth, **settings))
    return FusionClient(s, "fusion", sleep=lambda _: None, clock=clock)


def burdened_by_project(data: FusionData) -> dict[tuple[str, str], Decimal]:
    """What the pod's costs add up to per (project number, currency): every cost with a
    project and a readable amount, reversals included, at their current amounts."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for c in data.valid_costs():
        sums[(c["ProjectNumber"], c["ProjectCurrencyCode"])] += c["ProjectBurdenedCost"]
    return dict(sums)


def current_budgets(data: FusionData) -> dict[str, Decimal]:
    """Each project's current baseline of the Approved Cost Budget (burdened)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for b in data.budgets.values():
        v = b.version
        if v["FinancialPlanType"] == "Approved Cost Budget" and v["PlanVersionStatus"] == (
            "Current Baseline"
        ):
            for r in b.resources:
                for a in r["PlanningAmounts"]:
                    out[v["ProjectNumber"]] += a["BurdenedCostAmounts"]
    return dict(out)


__all__ = ["burdened_by_project", "client_on", "current_budgets", "pod"]
