"""The review of issue 22 (Oracle EBS flavor): its three failing tests (budget lines in the
project functional currency, the burden change bucket, the base amount's currency) and the
same defects, the org filter and the checkpoint's cap through the sandbox and `run_sync`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update

from pmo_ledger.connectors.oracle.ebs import normalize as n
from pmo_ledger.connectors.oracle.ebs import tables as t
from pmo_ledger.connectors.oracle.sandbox.ebs import cents
from pmo_ledger.connectors.oracle.sandbox.seed import ebs_date
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import ActualLine, BudgetLine, BudgetVersion
from tests.connectors.oracle.source import (
    Source,
    ledger_totals,
    oracle_app,
    source_totals,
    world_budget,
)

LA = ZoneInfo("America/Los_Angeles")


def cdl(**over: Any) -> dict[str, Any]:
    row = {"EXPENDITURE_ITEM_ID": 7, "LINE_NUM": 1, "LINE_NUM_REVERSED": None,
           "AMOUNT": Decimal("100.00"), "BURDENED_COST": Decimal("125.00"),
           "PROJECT_RAW_COST": Decimal("80.00"), "PROJECT_BURDENED_COST": Decimal("100.00"),
           "QUANTITY": Decimal("2"), "ACCT_CURRENCY_CODE": "USD", "PROJECT_CURRENCY_CODE": "GBP",
           "GL_DATE": ebs_date(2025, 3, 31), "LAST_UPDATE_DATE": ebs_date(2025, 4, 1, 9),
           "TASK_ID": 5, "EXPENDITURE_TYPE": "Professional", "SYSTEM_LINKAGE_FUNCTION": "ST",
           "EXPENDITURE_ITEM_DATE": ebs_date(2025, 3, 3), "UNIT_OF_MEASURE": "HOURS",
           "ADJUSTED_EXPENDITURE_ITEM_ID": None, "SEGMENT1": "PRJ-0002"}
    return {**row, **over}


def test_budget_line_raw_cost_is_project_functional_not_project_currency() -> None:
    """PA_BUDGET_LINES.RAW_COST is in the project FUNCTIONAL currency (EBS's own
    PA_PLANNING_TRANSACTION_UTILS pairs pbl.raw_cost with p.projfunc_currency_code,
    pbl.project_raw_cost with p.project_currency_code, pbl.txn_raw_cost with
    pbl.txn_currency_code). A GBP project on a USD operating unit: USD 1,000 = GBP 800."""
    row = {"BUDGET_LINE_ID": 1, "RAW_COST": Decimal("1000.00"),      # PFC (USD)
           "PROJECT_RAW_COST": Decimal("800.00"),                    # PC  (GBP)
           "TXN_RAW_COST": Decimal("800.00"), "TXN_CURRENCY_CODE": "GBP",
           "BURDENED_COST": Decimal("1250.00"), "QUANTITY": Decimal("10"),
           "UNIT_OF_MEASURE": "HOURS", "TASK_ID": 0}
    line = n.budget_line(row, "2025-03", "GBP", burdened=False)
    # today: amount=1000.0000 labelled GBP (the USD figure in the wrong currency)
    assert (line.amount, line.currency) == (Decimal("800.0000"), "GBP")


def test_burdened_cost_includes_the_burden_change_bucket() -> None:
    """EBS 12.1+ 'burden schedule change' enhancement: a revised burden schedule updates
    PROJECT_BURDENED_CHANGE (and ACCT_/PROJFUNC_/DENOM_BURDENED_CHANGE) on the line; EBS's own
    code reads nvl(cdl.project_burdened_cost,0)+nvl(cdl.project_burdened_change,0)."""
    r = n.actual_record(cdl(PROJECT_BURDENED_CHANGE=Decimal("20.00")), LA,
                        burdened=True, base_currency=None)
    assert r.amount == Decimal("120.0000")  # today: 100.0000


def test_base_amount_is_the_acct_amount_not_the_projfunc_amount() -> None:
    """CDL.AMOUNT / BURDENED_COST are in PROJFUNC_CURRENCY_CODE (EBS: 'According to MCB2
    changes this columns will be in PFC'); the functional amount of ACCT_CURRENCY_CODE is
    ACCT_RAW_COST / ACCT_BURDENED_COST. Cross-charge: a EUR-projfunc project charged by a
    USD operating unit: AMOUNT = EUR 100, ACCT_RAW_COST = USD 110."""
    r = n.actual_record(cdl(ACCT_CURRENCY_CODE="USD", PROJFUNC_CURRENCY_CODE="EUR",
                            AMOUNT=Decimal("100.00"), ACCT_RAW_COST=Decimal("110.00")),
                        LA, burdened=False, base_currency="USD")
    assert r.base_amount == Decimal("110.0000")  # today: 100.0000 (EUR stated as USD)


def _synced(engine: Engine, tmp_path: Path, source: Source, **settings: object) -> Any:
    app = oracle_app(engine, tmp_path, source.url, **settings)
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    return app


def _budget(app: Any, project: str) -> tuple[Decimal, set[str]]:
    with app.reading() as s:
        rows = s.execute(
            select(BudgetLine.amount, BudgetLine.currency)
            .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
            .where(BudgetVersion.project_ref == project, BudgetVersion.kind == "current",
                   BudgetVersion.superseded_at.is_(None), BudgetLine.deleted_at.is_(None))
        ).all()  # fmt: skip
    return sum((Decimal(a) for a, _ in rows), Decimal(0)), {c for _, c in rows}


def test_a_gbp_projects_budget_is_its_project_currency_amount(
    engine: Engine, tmp_path: Path, any_source: Source
) -> None:
    """PRJ-0002 (GBP) on the USD operating unit: its budget lines hold GBP in PROJECT_ and
    TXN_ amounts and USD in RAW_COST; the ledger holds the world's GBP budget, verify agrees."""
    app = _synced(engine, tmp_path, any_source)
    bl, bv, p = t.PA_BUDGET_LINES.c, t.PA_BUDGET_VERSIONS.c, t.PA_PROJECTS_ALL.c
    with any_source.engine.connect() as conn:
        pc, pfc, txn = conn.execute(
            select(func.sum(bl.PROJECT_RAW_COST), func.sum(bl.RAW_COST), func.sum(bl.TXN_RAW_COST))
            .join(t.PA_BUDGET_VERSIONS, bv.BUDGET_VERSION_ID == bl.BUDGET_VERSION_ID)
            .join(t.PA_PROJECTS_ALL, p.PROJECT_ID == bv.PROJECT_ID)
            .where(p.SEGMENT1 == "PRJ-0002", bv.CURRENT_FLAG == "Y", bv.BUDGET_TYPE_CODE == "AC")
        ).one()  # fmt: skip
    assert Decimal(str(pc)) == Decimal(str(txn)) == world_budget("PRJ-0002")
    assert Decimal(str(pfc)) > Decimal(str(pc))  # USD figures of a GBP budget
    assert _budget(app, "PRJ-0002") == (world_budget("PRJ-0002"), {"GBP"})
    assert not verify(app, "ebs", ["budgets"]).drift


def test_a_revised_burden_schedule_is_read_and_verified(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """A burden schedule recompiled (labor 1.25 -> 1.40) puts the difference in the line's
    *_BURDENED_CHANGE buckets and moves LAST_UPDATE_DATE: the next incremental run reads the
    line again at raw x 1.40; the totals are the source's and verify agrees."""
    app = _synced(engine, tmp_path, source, cost="burdened")
    cdl, ei = t.PA_COST_DISTRIBUTION_LINES_ALL.c, t.PA_EXPENDITURE_ITEMS_ALL.c
    with source.engine.connect() as conn:
        item, line, raw = conn.execute(
            select(cdl.EXPENDITURE_ITEM_ID, cdl.LINE_NUM, cdl.PROJECT_RAW_COST)
            .join(t.PA_EXPENDITURE_ITEMS_ALL, ei.EXPENDITURE_ITEM_ID == cdl.EXPENDITURE_ITEM_ID)
            .where(ei.SYSTEM_LINKAGE_FUNCTION == "ST", cdl.REVERSED_FLAG.is_(None),
                   cdl.LINE_NUM_REVERSED.is_(None), cdl.PROJECT_RAW_COST > 100)
            .order_by(cdl.EXPENDITURE_ITEM_ID).limit(1)
        ).one()  # fmt: skip
    source.ebs.reburden(int(item), Decimal("1.40"), source.later())
    assert verify(app, "ebs", ["actuals"]).drift  # the change is seen before the sync
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    with app.reading() as s:
        held = s.scalar(select(ActualLine.amount).where(
            ActualLine.external_id == f"{int(item)}/{int(line)}",
            ActualLine.deleted_at.is_(None)))  # fmt: skip
    assert Decimal(held) == cents(Decimal(str(raw)) * Decimal("1.40"))
    assert ledger_totals(app) == source_totals(source, burdened=True)
    assert not verify(app, "ebs", ["actuals"]).drift


def test_org_ids_filter_actuals_on_the_projects_operating_unit(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """An item on the German project (OU 458) charged by the US operating unit (EI.ORG_ID
    204) belongs to the project: read with org_ids [458], not with [204]."""
    ei, p = t.PA_EXPENDITURE_ITEMS_ALL.c, t.PA_PROJECTS_ALL.c
    with source.engine.begin() as conn:
        project = conn.scalar(select(p.PROJECT_ID).where(p.SEGMENT1 == "PRJ-0001"))
        first = conn.scalar(select(func.min(ei.EXPENDITURE_ITEM_ID)).where(
            ei.PROJECT_ID == project))  # fmt: skip
        conn.execute(update(t.PA_EXPENDITURE_ITEMS_ALL)
                     .where(ei.EXPENDITURE_ITEM_ID == first).values(ORG_ID=204))  # fmt: skip
    german = _synced(engine, tmp_path, source, org_ids=[458])
    assert set(ledger_totals(german)) == {("PRJ-0001", "EUR")}
    assert ledger_totals(german) == {
        k: v for k, v in source_totals(source).items() if k[0] == "PRJ-0001"
    }


def _labor(source: Source, at: datetime, reference: str) -> int:
    """A 1,000 USD labor item on PRJ-0004 stamped `at` (a DATE in the sandbox's zone)."""
    project = source.ebs.projects["PRJ-0004"]
    with source.engine.connect() as conn:
        task = conn.scalar(select(func.min(t.PA_TASKS.c.TASK_ID)).where(
            t.PA_TASKS.c.PROJECT_ID == project.project_id))  # fmt: skip
    return source.ebs.charge(project, int(task), "Professional", "ST", source.later().date(),
                             Decimal("1000.00"), "USD", quantity=Decimal(8), uom="HOURS",
                             at=at, reference=reference)  # fmt: skip


def _stored(app: Any) -> datetime:
    from pmo_ledger.ledger.models import SyncState

    with app.reading() as s:
        value = s.scalar(select(SyncState.checkpoint).where(
            SyncState.connector == "ebs", SyncState.stream == "actuals"))  # fmt: skip
    return datetime.fromisoformat(value["value"])


def test_a_costing_run_that_commits_late_is_still_read(
    engine: Engine, tmp_path: Path, any_source: Source
) -> None:
    """A line stamped ahead of the database's clock does not move the checkpoint past the
    time the read began (less a minute); a costing run stamped 40 minutes before a sync and
    committed after it is read by the next one (commit_lag 2h on top of the 15m lookback)."""
    from datetime import UTC, timedelta

    from pmo_ledger.connectors.oracle.sandbox.ebs import DB_TIMEZONE

    zone = ZoneInfo(DB_TIMEZONE)
    now = datetime.now(zone).replace(tzinfo=None, microsecond=0)
    ahead = _labor(any_source, now + timedelta(days=1), "stamped ahead")
    app = _synced(engine, tmp_path, any_source)
    assert _stored(app) <= datetime.now(UTC) - timedelta(seconds=59)
    late = _labor(any_source, now - timedelta(minutes=40), "committed late")
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    with app.reading() as s:
        read = set(s.scalars(select(ActualLine.external_id).where(
            ActualLine.external_id.in_([f"{ahead}/1", f"{late}/1"]))))  # fmt: skip
    assert read == {f"{ahead}/1", f"{late}/1"}
    assert ledger_totals(app) == source_totals(any_source)
