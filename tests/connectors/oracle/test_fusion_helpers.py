"""What the Fusion flavor's tests share: the fake pod, a client on it, and a minimal
connector around `FusionReader` for syncs through the runner (used until the Oracle
connector class of `connectors.oracle` dispatches `flavor = "fusion"` to the reader)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Page,
    ReadRequest,
    SourceTotal,
    StreamSpec,
)
from pmo_ledger.connectors.oracle.fusion.client import FusionClient
from pmo_ledger.connectors.oracle.fusion.reader import STREAMS, FusionReader
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


class FusionOnly(Connector):
    """The Fusion reader as a connector of its own (what `connectors.oracle` does for
    `flavor = "fusion"`), built from a FusionSettings."""

    kind: ClassVar[str] = "oracle"
    settings_model = FusionSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        assert isinstance(settings, FusionSettings)
        super().__init__(settings, context)
        self.reader = FusionReader(settings, context)
        self.streams: Mapping[str, StreamSpec] = self.reader.streams()

    def check(self) -> None:
        self.reader.check()

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        return self.reader.extract(stream, request)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        return self.reader.control_totals(stream)

    def close(self) -> None:
        self.reader.close()


__all__ = ["STREAMS", "FusionOnly", "burdened_by_project", "client_on", "current_budgets", "pod"]
