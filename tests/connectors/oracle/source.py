"""The EBS-shaped source of the Oracle tests, the App that syncs it, and what the source holds
versus what the ledger holds, per project and currency.

The source is the sandbox's demo EBS (`connectors/oracle/sandbox/seed.py`) on a smaller
world (`WORLD`: 600 lines), in SQLite (a seeded file copied per test) or in PostgreSQL (the
schema "APPS" of the test database). Expected totals come two ways, neither through the
connector's statements: from the world's own lines re-expressed in each project's currency
(`world_totals`), and from the source's rows added up in Python (`source_totals`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.oracle.ebs import tables as t
from pmo_ledger.connectors.oracle.ebs.source import make_source_engine
from pmo_ledger.connectors.oracle.sandbox.ebs import LABOR_BURDEN, Ebs, cents
from pmo_ledger.connectors.oracle.sandbox.run import ebs_settings
from pmo_ledger.connectors.oracle.sandbox.seed import max_update
from pmo_ledger.connectors.oracle.settings import OracleSettings
from pmo_ledger.connectors.sample.actuals import ActualLines
from pmo_ledger.connectors.sample.settings import SampleSettings
from pmo_ledger.connectors.sample.world import World
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import (
    PsaWorld,
    Rates,
    in_currency,
    psa_timecards,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.ledger.models import ActualLine

WORLD = PsaWorld(seed=42, projects=6, actuals=600)
PAGE_SIZE = 100
#: (project, currency) -> (lines, amount, hours)
Totals = dict[tuple[str | None, str | None], tuple[int, Decimal, Decimal]]


def rates() -> Rates:
    return psa_timecards(WORLD)[2]


@dataclass
class Source:
    """An EBS-shaped source: its URL and a writer on it (for mutation rounds)."""

    url: str
    ebs: Ebs

    @property
    def engine(self) -> Engine:
        return self.ebs.engine

    def later(self, days: int = 1) -> datetime:
        """A LAST_UPDATE_DATE after everything the source holds."""
        return max_update(self.engine) + timedelta(days=days)


def open_source(url: str) -> Source:
    settings = OracleSettings.model_validate(ebs_settings(url))
    engine = make_source_engine(settings, timedelta(seconds=10), timedelta(seconds=60))
    return Source(url, Ebs(engine, rates(), max_update(engine)))


def oracle_app(
    engine: Engine, tmp_path: Path, url: str, ledger: dict[str, Any] | None = None,
    **settings: Any,
) -> App:  # fmt: skip
    """An App whose one connector `ebs` reads the source at `url`."""
    connector = {"kind": "oracle", "lookback": "15m", **ebs_settings(url),
                 "page_size": PAGE_SIZE, **settings}  # fmt: skip
    table = {
        "url": engine.url.render_as_string(hide_password=False),
        "base_currency": "USD",
        **(ledger or {}),
    }
    return App(
        parse_config({"ledger": table, "connectors": {"ebs": connector}}, {}, tmp_path),
        None,
        _engine=engine,
    )


def ledger_totals(app: App, stream: str = "actuals") -> Totals:
    """Live lines of `ebs` per (project ref, currency): lines, amount, hours."""
    with app.reading() as s:
        rows = s.execute(
            select(
                ActualLine.project_ref,
                ActualLine.currency,
                func.count(),
                func.coalesce(func.sum(ActualLine.amount), 0),
                func.coalesce(func.sum(ActualLine.hours), 0),
            )
            .where(ActualLine.source == "ebs", ActualLine.stream == stream,
                   ActualLine.deleted_at.is_(None))
            .group_by(ActualLine.project_ref, ActualLine.currency)
        ).all()  # fmt: skip
    return {(r[0], r[1]): (int(r[2]), Decimal(r[3]), Decimal(r[4])) for r in rows}


def source_totals(source: Source, *, burdened: bool = False) -> Totals:
    """The raw cost lines of non-template projects, added up in Python (burdened: with the
    burden change a revised burden schedule left)."""
    cdl, ei, p = t.PA_COST_DISTRIBUTION_LINES_ALL, t.PA_EXPENDITURE_ITEMS_ALL, t.PA_PROJECTS_ALL
    column = cdl.c.PROJECT_BURDENED_COST if burdened else cdl.c.PROJECT_RAW_COST
    change = cdl.c.PROJECT_BURDENED_CHANGE if burdened else cdl.c.PROJECT_RAW_COST * 0
    with source.engine.connect() as conn:
        rows = conn.execute(
            select(p.c.SEGMENT1, p.c.TEMPLATE_FLAG, cdl.c.LINE_TYPE, cdl.c.PROJECT_CURRENCY_CODE,
                   column, change, cdl.c.QUANTITY, ei.c.SYSTEM_LINKAGE_FUNCTION)
            .select_from(cdl.join(ei, ei.c.EXPENDITURE_ITEM_ID == cdl.c.EXPENDITURE_ITEM_ID)
                         .join(p, p.c.PROJECT_ID == ei.c.PROJECT_ID))
        ).all()  # fmt: skip
    out: dict[tuple[str | None, str | None], list[Any]] = defaultdict(
        lambda: [0, Decimal(0), Decimal(0)]
    )
    for number, template, line_type, ccy, amount, delta, qty, linkage in rows:
        if template == "Y" or line_type != "R":
            continue
        group = out[(number, ccy)]
        group[0] += 1
        group[1] += cents(Decimal(str(amount))) + cents(Decimal(str(delta or 0)))
        if linkage in ("ST", "OT"):
            group[2] += Decimal(str(qty))
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def world_totals(*, burdened: bool = False) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """The world's lines per project in the project's currency (amount, labor hours): what
    the demo EBS must hold once its planted adjustments net out."""
    sample = World(SampleSettings(seed=WORLD.seed, projects=WORLD.projects,
                                  actuals=WORLD.actuals))  # fmt: skip
    currency = {p.key: p.currency for p in sample.projects}
    fx = rates()
    lines = ActualLines(sample)
    out: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for i in range(WORLD.actuals):
        line = lines.line(i, 0, 0, 0, sample.e0)
        assert line.project_ref and line.amount is not None and line.currency
        ccy = currency[line.project_ref]
        amount = in_currency(line.amount, line.currency, ccy, line.posted_on, fx)
        if burdened and line.cost_type == "labor":
            amount = cents(amount * LABOR_BURDEN)
        group = out[(line.project_ref, ccy)]
        group[0] += amount
        group[1] += line.hours if line.cost_type == "labor" and line.hours else Decimal(0)
    return {k: (v[0], v[1]) for k, v in out.items()}


def item_by_reference(source: Source, reference: str) -> int:
    """The expenditure item entered with ORIG_TRANSACTION_REFERENCE `reference`."""
    ei = t.PA_EXPENDITURE_ITEMS_ALL.c
    with source.engine.connect() as conn:
        return int(conn.scalar(select(ei.EXPENDITURE_ITEM_ID).where(
            ei.ORIG_TRANSACTION_REFERENCE == reference)))  # fmt: skip


def recosted_item(source: Source) -> int:
    """The item with a reversed raw line (the seed's re-costed labor item)."""
    cdl = t.PA_COST_DISTRIBUTION_LINES_ALL.c
    with source.engine.connect() as conn:
        return int(conn.scalar(select(cdl.EXPENDITURE_ITEM_ID).where(cdl.REVERSED_FLAG == "Y")))


def last_line_update(source: Source) -> datetime:
    cdl = t.PA_COST_DISTRIBUTION_LINES_ALL.c
    with source.engine.connect() as conn:
        value = conn.scalar(select(func.max(cdl.LAST_UPDATE_DATE)))
    assert isinstance(value, datetime)
    return value


def world_budget(project: str) -> Decimal:
    """The world's current budget of `project` (what its EBS version 2 holds)."""
    from pmo_ledger.connectors.sample.streams import Structure
    from pmo_ledger.ledger.records import BudgetRecord

    sample = World(SampleSettings(seed=WORLD.seed, projects=WORLD.projects,
                                  actuals=WORLD.actuals))  # fmt: skip
    table = Structure(sample).tables()["budgets"]
    for i in range(table.size):
        record = table.make(i, sample.e0)
        if isinstance(record, BudgetRecord) and record.kind == "current" \
                and record.project_ref == project:
            return sum((line.amount for line in record.lines), Decimal(0))
    raise LookupError(project)
