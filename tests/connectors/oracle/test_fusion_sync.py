"""The Fusion flavor end to end: the fake pod over HTTPS, through `run_sync` into the ledger
on SQLite and PostgreSQL. Expected figures come from the pod's own rows."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.base import ConnectorContext, Page, ReadRequest
from pmo_ledger.connectors.errors import ConnectorTransientError
from pmo_ledger.connectors.oracle import OracleConnector
from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox
from pmo_ledger.connectors.oracle.settings import OracleSettings
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.sync import SyncResult, run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    FxRate,
    LedgerEntry,
    Project,
    Quarantine,
)
from tests.connectors.oracle.test_fusion_helpers import burdened_by_project, current_budgets, pod

__all__ = ["pod"]
NAME = "fus"


def ledger_app(
    engine: Engine,
    tmp_path: Path,
    pod: FusionSandbox,
    ledger: dict[str, Any] | None = None,
    **fusion: Any,
) -> App:
    """An App whose connector `fus` (kind oracle, flavor fusion) reads the pod with the
    `fusion` keys; the ledger's base currency is USD."""
    table = {"url": engine.url.render_as_string(hide_password=False), "base_currency": "USD",
             **(ledger or {})}  # fmt: skip
    connector = {"kind": "oracle", "flavor": "fusion", "fusion": pod.settings(**fusion)}
    config = {"ledger": table, "connectors": {NAME: connector}}
    return App(parse_config(config, {}, tmp_path), None, _engine=engine)


def sync(a: App) -> SyncResult:
    result = run_sync(a, NAME)
    assert result.status == "succeeded", result.message
    return result


def ledger_totals(a: App) -> dict[tuple[str, str], Decimal]:
    """Live actual lines per (project code, currency): the sum of their amounts."""
    with a.reading() as s:
        rows = s.execute(
            select(Project.code, ActualLine.currency, func.sum(ActualLine.amount))
            .join(Project, Project.id == ActualLine.project_id)
            .where(ActualLine.source == NAME, ActualLine.deleted_at.is_(None))
            .group_by(Project.code, ActualLine.currency)
        ).all()
    return {(code, ccy): amount for code, ccy, amount in rows}


def raw_by_project(data: FusionData) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for c in data.valid_costs():
        sums[(c["ProjectNumber"], c["ProjectCurrencyCode"])] += c["ProjectRawCost"]
    return dict(sums)


def line_count(a: App) -> int:
    with a.reading() as s:
        return int(s.scalar(select(func.count()).select_from(ActualLine)) or 0)


def test_a_full_sync_gives_each_projects_raw_cost_by_currency(
    engine: Engine, tmp_path: Path, pod: FusionSandbox
) -> None:
    """Every cost once, reversals and re-entries included; the dirty rows in quarantine."""
    a = ledger_app(engine, tmp_path, pod)
    sync(a)
    assert ledger_totals(a) == raw_by_project(pod.data)
    assert line_count(a) == len(list(pod.data.valid_costs()))
    with a.reading() as s:
        held = s.execute(select(Quarantine.reason, Quarantine.stream)).all()
        codes = set(s.scalars(select(Project.code)))
    assert sorted(held) == [("no_project", "actuals"), ("unreadable_row", "actuals")]
    assert codes >= {f"PRJ-000{k}" for k in range(1, 7)}
    assert "TPL-CONSULTING" not in codes  # a template is no project
    checked = verify(a, NAME, ["actuals", "budgets"])
    assert not checked.drift, [d for st in checked.streams for d in st.drifted]


def test_burdened_cost_and_labor_hours(engine: Engine, tmp_path: Path, pod: FusionSandbox) -> None:
    a = ledger_app(engine, tmp_path, pod, cost="burdened")
    sync(a)
    assert ledger_totals(a) == burdened_by_project(pod.data)
    with a.reading() as s:
        hours = s.scalar(select(func.sum(ActualLine.hours)).where(ActualLine.hours.is_not(None)))
    want = sum(c["Quantity"] for c in pod.data.valid_costs() if c["UnitOfMeasure"] == "Hours")
    assert hours == want and hours > 0


def test_reversals_net_to_zero(engine: Engine, tmp_path: Path, pod: FusionSandbox) -> None:
    """A reversed item and its reversal are two lines that add up to nothing."""
    a = ledger_app(engine, tmp_path, pod)
    sync(a)
    pairs = [(str(c["ReversedExpenditureItemId"]), str(c["ExpenditureItemId"]))
             for c in pod.data.costs.values() if c["ReversedExpenditureItemId"]]  # fmt: skip
    assert len(pairs) > 10
    with a.reading() as s:
        amount = {k: v for k, v in s.execute(select(ActualLine.external_id, ActualLine.amount))}
    for original, reversal in pairs:
        assert amount[original] + amount[reversal] == 0
        assert amount[original] > 0


def test_the_project_ledger_amount_is_kept_as_base_when_it_is_the_ledgers_currency(
    engine: Engine, tmp_path: Path, pod: FusionSandbox
) -> None:
    """A project in EUR under a USD business unit: the line is in EUR, its base amount is
    Fusion's own USD amount (fx_source 'source'), no rate needed."""
    a = ledger_app(engine, tmp_path, pod, base_currency="USD")
    sync(a)
    item = next(c for c in pod.data.valid_costs() if c["ProjectCurrencyCode"] != "USD")
    with a.reading() as s:
        line = s.execute(
            select(ActualLine.currency, ActualLine.amount, ActualLine.base_amount,
                   ActualLine.fx_source)
            .where(ActualLine.external_id == str(item["ExpenditureItemId"]))
        ).one()  # fmt: skip
    assert tuple(line) == (item["ProjectCurrencyCode"], item["ProjectRawCost"],
                           item["ProjectLedgerRawCost"], "source")  # fmt: skip


def test_only_the_current_baseline_counts(
    engine: Engine, tmp_path: Path, pod: FusionSandbox
) -> None:
    """Two baselines per project are loaded, the earlier superseded; the working version
    and the revenue budget are never read."""
    a = ledger_app(engine, tmp_path, pod, cost="burdened")
    sync(a)
    with a.reading() as s:
        rows = s.execute(
            select(Project.code, BudgetVersion.number, BudgetVersion.superseded_at.is_(None),
                   func.sum(BudgetLine.amount))
            .join(BudgetVersion, BudgetVersion.project_id == Project.id)
            .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
            .where(BudgetLine.deleted_at.is_(None))
            .group_by(Project.code, BudgetVersion.number, BudgetVersion.superseded_at)
        ).all()  # fmt: skip
    live = {code: amount for code, _, is_live, amount in rows if is_live}
    assert live == current_budgets(pod.data)
    assert sorted({(n, is_live) for _, n, is_live, _ in rows}) == [(1, False), (2, True)]


def test_a_mutation_round_is_read_incrementally(
    engine: Engine, tmp_path: Path, pod: FusionSandbox
) -> None:
    """Re-costed items restate, reversals and new costs add, a new baseline supersedes; the
    second run reads only what changed since the first (minus the lookback)."""
    a = ledger_app(engine, tmp_path, pod)
    sync(a)
    changed = pod.data.mutate()
    calls = len(pod.app.log)
    sync(a)
    assert ledger_totals(a) == raw_by_project(pod.data)
    reads = [p for _, path, p in pod.app.log[calls:] if path.endswith("/projectCosts")]
    # The changes and the lookback's overlap (15 minutes: 900 writes of the pod's clock) fit
    # in two pages; the full read took seven.
    assert len(reads) == 2
    assert all(r["q"].startswith("LastUpdateDate>='2026-01-05T") for r in reads)
    recosted = str(changed["recosted"][0])
    with a.reading() as s:
        reasons = s.scalars(
            select(LedgerEntry.reason)
            .join(ActualLine, ActualLine.id == LedgerEntry.line_id)
            .where(ActualLine.external_id == recosted)
            .order_by(LedgerEntry.id)
        ).all()
        versions = s.execute(
            select(Project.code, BudgetVersion.number)
            .join(Project, Project.id == BudgetVersion.project_id)
            .where(BudgetVersion.superseded_at.is_(None))
        ).all()
    assert reasons == ["insert", "restate"]
    # Version 3 is the working version (never read): the new baseline is number 4.
    assert ("PRJ-0002", 4) in versions and ("PRJ-0002", 2) not in versions
    assert line_count(a) == len(list(pod.data.valid_costs()))


class Stopping(OracleConnector):
    """Once `after` pages of actuals were handed to the runner: sets `cancel` (a service
    that stops mid-read) or, with `crash`, loses the connection (the read breaks off)."""

    def __init__(self, app: App, cancel: threading.Event, after: int, crash: bool) -> None:
        settings = OracleSettings.model_validate(app.config.connectors[NAME].settings)
        super().__init__(settings, ConnectorContext(NAME, calendar=app.settings.calendar))
        self.cancel, self.after, self.crash = cancel, after, crash

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        for k, page in enumerate(super().extract(stream, request), 1):
            yield page
            if stream == "actuals" and k == self.after:
                if self.crash:
                    raise ConnectorTransientError("the connection to the pod dropped")
                self.cancel.set()


@pytest.mark.parametrize(("crash", "status"), [(False, "interrupted"), (True, "partial")])
def test_a_stopped_run_resumes_without_duplicates(
    engine: Engine, tmp_path: Path, pod: FusionSandbox, crash: bool, status: str
) -> None:
    """Stopped (or cut off) after two committed pages of costs, the next run starts from the
    checkpoint (a `q` window, not row 1) and ends with every cost once."""
    a = ledger_app(engine, tmp_path, pod, {"batch_rows": 500})
    cancel = threading.Event()
    stopping = Stopping(a, cancel, after=2, crash=crash)
    stopped = run_sync(a, NAME, connector=stopping, cancel=cancel)
    assert stopped.status == status
    partial = line_count(a)
    assert 0 < partial < len(list(pod.data.valid_costs()))
    calls = len(pod.app.log)
    sync(a)
    assert ledger_totals(a) == raw_by_project(pod.data)
    assert line_count(a) == len(list(pod.data.valid_costs()))
    first = next(p for _, path, p in pod.app.log[calls:] if path.endswith("/projectCosts"))
    assert first["q"].startswith("LastUpdateDate>=") and first["offset"] == "0"


def test_oauth_and_throttling_through_a_whole_sync(engine: Engine, tmp_path: Path) -> None:
    """Every seventh call is a 429 and the tokens live one hour: the sync completes."""
    with FusionSandbox(FusionData(), throttle_every=7) as throttled:
        a = ledger_app(engine, tmp_path, throttled, oauth=True)
        sync(a)
        assert ledger_totals(a) == raw_by_project(throttled.data)
        statuses = [p for _, path, p in throttled.app.log if path.endswith("/token")]
        assert throttled.app.tokens_issued == 1 and len(statuses) == 1


@pytest.mark.parametrize("stream", ["projects", "tasks"])
def test_structure_streams_load_every_row(
    engine: Engine, tmp_path: Path, pod: FusionSandbox, stream: str
) -> None:
    a = ledger_app(engine, tmp_path, pod)
    result = run_sync(a, NAME, streams=["projects", "tasks"])
    assert result.status == "succeeded", result.message
    (done,) = [r for r in result.streams if r.stream == stream]
    want = len(pod.data.projects) if stream == "projects" else 6 * 9
    assert done.listed == want


def test_daily_rates_of_the_conversion_type_load_as_fx_rates(
    engine: Engine, tmp_path: Path, pod: FusionSandbox
) -> None:
    """`currencyRates` through its finder: the Corporate rates of EUR and GBP to USD of the
    last 400 days on the pod's clock, not its Spot rates."""
    a = ledger_app(engine, tmp_path, pod, fx_rate_type="Corporate", fx_currencies=["EUR", "GBP"],
                   base_currency="USD")  # fmt: skip
    result = run_sync(a, NAME, streams=["fx_rates"])
    assert result.status == "succeeded", result.message
    want = {(r["FromCurrency"], r["ConversionDate"]): r["ConversionRate"]
            for r in pod.data.rates if r["UserConversionType"] == "Corporate"}  # fmt: skip
    with a.reading() as s:
        got = {(ccy, day.isoformat()): rate for ccy, day, rate in s.execute(
            select(FxRate.from_ccy, FxRate.valid_from, FxRate.rate)
            .where(FxRate.source == NAME, FxRate.rate_type == "corporate", FxRate.to_ccy == "USD")
        )}  # fmt: skip
    assert got == want and len(got) == 2 * 365


@pytest.mark.parametrize("cap", [0, 5])
def test_expanded_children_that_say_has_more_are_read_from_their_own_path(
    engine: Engine, tmp_path: Path, cap: int
) -> None:
    """The pod shows at most `cap` rows of an expanded child: the reader reads the rest from
    the child's own path, and the budgets add up as before."""
    with FusionSandbox(FusionData(), expand_cap=cap) as capped:
        a = ledger_app(engine, tmp_path, capped, cost="burdened")
        assert run_sync(a, NAME, streams=["projects", "budgets"]).status == "succeeded"
        with a.reading() as s:
            rows = s.execute(
                select(Project.code, func.sum(BudgetLine.amount))
                .join(BudgetVersion, BudgetVersion.project_id == Project.id)
                .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
                .where(BudgetVersion.superseded_at.is_(None), BudgetLine.deleted_at.is_(None))
                .group_by(Project.code)
            ).all()
        assert dict(rows) == current_budgets(capped.data)
        children = [path for _, path, _ in capped.app.log if "PlanningAmount" in path]
        assert children and all(p.endswith(("/PlanningAmounts", "/PlanningAmountDetails"))
                                for p in children)  # fmt: skip
