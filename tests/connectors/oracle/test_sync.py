"""The EBS flavor through `run_sync` into the ledger (SQLite and PostgreSQL), reading the
demo EBS: exact totals per project and currency, raw and burdened, reversals and re-costing,
budgets, incremental reads after a mutation round, verify."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.oracle.sandbox import mutate
from pmo_ledger.connectors.oracle.sandbox.ebs import DB_TIMEZONE
from pmo_ledger.connectors.oracle.sandbox.seed import MISTAKE, TEMPLATE
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    LedgerEntry,
    Project,
    SyncState,
)
from tests.connectors.oracle.source import (
    Source,
    Totals,
    item_by_reference,
    last_line_update,
    ledger_totals,
    oracle_app,
    recosted_item,
    source_totals,
    world_budget,
    world_totals,
)


def synced(engine: Engine, tmp_path: Path, source: Source, **settings: object) -> App:
    app = oracle_app(engine, tmp_path, source.url, **settings)
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    return app


def amounts(totals: Totals) -> dict[tuple[str | None, str | None], tuple[Decimal, Decimal]]:
    return {k: (v[1], v[2]) for k, v in totals.items()}


def test_raw_cost_per_project_and_currency_is_the_worlds_to_the_cent(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """Every project's raw cost in its own currency and its labor hours are the world's
    lines re-expressed in that currency; the template is not there."""
    app = synced(engine, tmp_path, source)
    held = ledger_totals(app)
    assert amounts(held) == world_totals()
    assert held == source_totals(source)
    assert ("PRJ-0002", "GBP") in held  # a GBP project on the USD operating unit
    with app.reading() as s:
        codes = set(s.scalars(select(Project.code).where(Project.code != "UNMAPPED")))
    assert codes == {f"PRJ-000{i}" for i in range(1, 7)}
    assert TEMPLATE not in codes


def test_burdened_cost_counts_labor_at_its_burden(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    app = synced(engine, tmp_path, source, cost="burdened")
    held = ledger_totals(app)
    assert amounts(held) == world_totals(burdened=True)
    assert held == source_totals(source, burdened=True)
    raw = world_totals()
    assert all(held[k][1] > raw[k][0] for k in raw)  # every project has labor


def test_the_functional_amount_is_kept_as_base_where_it_is_the_base_currency(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """USD operating unit: the functional cost is the line's base (fx_source 'source'), also
    for a GBP project; EUR operating unit: converted by rate."""
    app = synced(engine, tmp_path, source)
    with app.reading() as s:
        kinds = dict(s.execute(
            select(ActualLine.project_ref, func.min(ActualLine.fx_source))
            .where(ActualLine.source == "ebs").group_by(ActualLine.project_ref)
        ).all())  # fmt: skip
    assert kinds["PRJ-0002"] == "source"  # GBP project, USD functional
    assert kinds["PRJ-0004"] == "source"
    assert kinds["PRJ-0001"] != "source"  # EUR project on the EUR operating unit


def item_lines(app: App, item: int) -> list[tuple[str, Decimal]]:
    with app.reading() as s:
        return [(k, Decimal(a)) for k, a in s.execute(
            select(ActualLine.external_id, ActualLine.amount)
            .where(ActualLine.external_id.like(f"{item}/%")).order_by(ActualLine.external_id)
        ).all()]  # fmt: skip


def test_a_reversed_item_nets_to_zero(engine: Engine, tmp_path: Path, source: Source) -> None:
    app = synced(engine, tmp_path, source)
    mistake = item_by_reference(source, "charged to the wrong project")
    reversal = item_by_reference(source, f"reverses {mistake}")
    assert item_lines(app, mistake) == [(f"{mistake}/1", MISTAKE)]
    assert item_lines(app, reversal) == [(f"{reversal}/1", -MISTAKE)]


def test_a_recosted_item_is_restated_by_its_reversing_line(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """The first cost (10% too high), its reversing line and the new cost: the item adds up
    to its new cost, which is the world's."""
    app = synced(engine, tmp_path, source)
    item = recosted_item(source)
    (k1, first), (k2, back), (k3, right) = item_lines(app, item)
    assert (k1, k2, k3) == (f"{item}/1", f"{item}/2", f"{item}/3")
    assert back == -first and right < first
    assert first + back + right == source.ebs.item(item)["PROJECT_RAW_COST"]


def test_only_the_current_baselined_cost_budget_counts(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """Versions 1 (superseded) and 2 (current) of each project's cost budget; the draft, the
    revenue budget and the template's are not read; verify agrees."""
    app = synced(engine, tmp_path, source)
    with app.reading() as s:
        versions = s.execute(
            select(BudgetVersion.project_ref, BudgetVersion.kind, BudgetVersion.number,
                   BudgetVersion.superseded_at.is_not(None))
            .where(BudgetVersion.project_ref == "PRJ-0001").order_by(BudgetVersion.kind,
                                                                     BudgetVersion.number)
        ).all()  # fmt: skip
        live = s.scalar(
            select(func.sum(BudgetLine.amount))
            .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
            .where(BudgetVersion.project_ref == "PRJ-0004", BudgetVersion.kind == "current",
                   BudgetVersion.superseded_at.is_(None), BudgetLine.deleted_at.is_(None))
        )  # fmt: skip
        refs = set(s.scalars(select(BudgetVersion.project_ref)))
    assert versions == [("PRJ-0001", "baseline", 1, False), ("PRJ-0001", "current", 1, True),
                        ("PRJ-0001", "current", 2, False)]  # fmt: skip
    assert Decimal(live) == world_budget("PRJ-0004")
    assert TEMPLATE not in refs
    result = verify(app, "ebs", ["budgets", "actuals"])
    assert not result.drift, [d for s in result.streams for d in s.drifted]


def test_a_mutation_round_is_read_incrementally(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """After a week of changes, the next run reads only them (from the checkpoint less the
    lookback): a new item, a re-costing and a reversal as four new lines, a new current
    budget version, a renamed project; the totals are the source's again."""
    app = synced(engine, tmp_path, source)
    before = ledger_totals(app)
    change = mutate.mutation_round(source.ebs, source.later())
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == source_totals(source)
    with app.reading() as s:
        inserted = s.scalars(
            select(LedgerEntry.reason).where(LedgerEntry.run_id == result.run_id)
        ).all()
        name = s.scalar(select(Project.name).where(Project.code == "PRJ-0005"))
        current = s.execute(
            select(BudgetVersion.number, BudgetVersion.superseded_at.is_(None))
            .where(BudgetVersion.project_ref == "PRJ-0004", BudgetVersion.kind == "current")
            .order_by(BudgetVersion.number)
        ).all()  # fmt: skip
    assert sorted(inserted) == ["insert"] * 4
    assert name == mutate.RENAMED
    assert current == [(1, False), (2, False), (3, True)]
    new = ledger_totals(app)[("PRJ-0004", "USD")]
    assert new[1] - before[("PRJ-0004", "USD")][1] == mutate.NEW_LABOR
    assert new[2] - before[("PRJ-0004", "USD")][2] == Decimal(8)
    assert item_lines(app, change.reversal)[0][1] == -item_lines(app, change.reversed_item)[0][1]
    assert not verify(app, "ebs", ["actuals", "budgets"]).drift


def test_verify_finds_what_changed_since_the_sync(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    app = synced(engine, tmp_path, source)
    mutate.mutation_round(source.ebs, source.later())
    result = verify(app, "ebs", ["actuals"])
    drifted = {d.project_ref: d.amount_drift for d in result.streams[0].drifted}
    assert drifted["PRJ-0004"] == mutate.NEW_LABOR
    assert set(drifted) == {"PRJ-0003", "PRJ-0004", "PRJ-0006"}


def test_the_checkpoint_is_the_last_update_in_utc(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """LAST_UPDATE_DATE has no zone: the database's (America/Los_Angeles) makes it UTC."""
    app = synced(engine, tmp_path, source)
    with app.reading() as s:
        stored = s.scalar(select(SyncState.checkpoint).where(SyncState.connector == "ebs",
                                                             SyncState.stream == "actuals"))  # fmt: skip
    latest = last_line_update(source)
    expected = latest.replace(tzinfo=ZoneInfo(DB_TIMEZONE)).astimezone(UTC)
    assert stored == {"kind": "timestamp", "value": expected.isoformat()}
    assert expected.hour != latest.hour  # the zone moved it


def test_org_ids_read_only_those_operating_units(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """The German operating unit (458) holds the EUR project alone."""
    app = synced(engine, tmp_path, source, org_ids=[458])
    assert set(ledger_totals(app)) == {("PRJ-0001", "EUR")}
    assert amounts(ledger_totals(app))[("PRJ-0001", "EUR")] == world_totals()[("PRJ-0001", "EUR")]


def test_daily_rates_load_in_both_directions_as_the_ledgers_rate_type(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    from pmo_ledger.ledger.models import FxRate

    app = synced(engine, tmp_path, source)
    with app.reading() as s:
        rows = s.execute(
            select(FxRate.rate_type, FxRate.from_ccy, FxRate.to_ccy, func.count())
            .where(FxRate.source == "ebs")
            .group_by(FxRate.rate_type, FxRate.from_ccy, FxRate.to_ccy)
        ).all()  # fmt: skip
    assert sorted(rows) == [("corporate", "EUR", "USD", 12), ("corporate", "GBP", "USD", 12),
                            ("corporate", "USD", "EUR", 12), ("corporate", "USD", "GBP", 12)]  # fmt: skip


def test_a_project_re_sync_reverses_a_line_ebs_no_longer_lists(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """A purged cost line (archive and purge removes lines) is invisible to an incremental
    read; `sync --project PRJ-0002` reads the project whole and reverses it, and no other."""
    from sqlalchemy import delete

    from pmo_ledger.connectors.oracle.ebs import tables as t

    app = synced(engine, tmp_path, source)
    mistake = item_by_reference(source, "charged to the wrong project")
    cdl = t.PA_COST_DISTRIBUTION_LINES_ALL
    with source.engine.begin() as conn:
        conn.execute(delete(cdl).where(cdl.c.EXPENDITURE_ITEM_ID == mistake))
    result = run_sync(app, "ebs", project="PRJ-0002")
    assert result.status == "succeeded", result.message
    assert [s.reversed for s in result.streams] == [1]
    assert ledger_totals(app) == source_totals(source)
    assert item_lines(app, mistake) == [(f"{mistake}/1", MISTAKE)]  # the line, reversed
    with app.reading() as s:
        gone = s.scalar(select(ActualLine.deleted_at).where(
            ActualLine.external_id == f"{mistake}/1"))  # fmt: skip
    assert gone is not None
