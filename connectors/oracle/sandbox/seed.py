"""The demo EBS: the PSA sample's projects PRJ-0001..PRJ-0006 (`DEMO_PSA`, the same world the
Workfront and SAP sandboxes mirror) as Oracle Projects, with the world's cost lines as
expenditure items and its budgets as baselined cost budgets. Deterministic.

- Projects keep their code (SEGMENT1), name, dates and currency; EUR projects belong to the
  German operating unit (functional EUR), the others to the US one (functional USD), so the
  GBP projects PRJ-0002 and PRJ-0003 are in a currency that is not their operating unit's.
- Tasks: the world's WBS (TASK_NUMBER its WBS code, PARENT_TASK_ID its parent).
- Items: every world line (labor as straight time ST, every 9th labor line overtime OT, with
  its hours; travel as expense reports ER, software and subcontract as supplier invoices VI,
  quantity 1 EACH), in the line's currency (DENOM_) and costed into the project's and the
  operating unit's currency at the PSA's rates, so the project amounts are the world's lines
  re-expressed in the project's currency to the cent. Labor is burdened at 1.25.
- On purpose (each nets to nothing against the world): on PRJ-0002 a travel item charged by
  mistake and reversed by a negative item (ADJUSTED_EXPENDITURE_ITEM_ID); on PRJ-0001 the
  first labor item costed at a wrong rate and re-costed (REVERSED_FLAG, a reversing line
  with LINE_NUM_REVERSED and a new line, in a later GL period).
- Budgets: the world's baseline as version 1 (now superseded, CURRENT_ORIGINAL_FLAG Y) and
  its current budget as version 2 (CURRENT_FLAG Y) of the Approved Cost Budget (AC), by
  period and cost type; beside them a working draft (W) on PRJ-0001 and a revenue budget
  (AR) on PRJ-0004 that do not count.
- A template project (T-1000, TEMPLATE_FLAG Y) with a task and a baselined budget: no reader
  may list it.
- GL_DAILY_RATES: the PSA's monthly rates to USD (type Corporate) and their inverses.
- `dirty`: a line whose project currency is missing (rejected) on PRJ-0005.

LAST_UPDATE_DATE: an item and its line the evening after its day (DB_TIMEZONE), one second
apart in line order; projects, tasks, budgets and rates at their own dates.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine, update

from pmo_ledger.connectors.oracle.ebs import tables as t
from pmo_ledger.connectors.oracle.sandbox.ebs import (
    LABOR_BURDEN,
    BudgetLine,
    Ebs,
    Project,
    cents,
    month_bounds,
)
from pmo_ledger.connectors.sample.actuals import ActualLines
from pmo_ledger.connectors.sample.settings import SampleSettings
from pmo_ledger.connectors.sample.streams import Structure, Table
from pmo_ledger.connectors.sample.world import World
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import PsaWorld, Rates, psa_timecards
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, TaskRecord

TEMPLATE = "T-1000"
#: The expenditure type and system linkage of each sample cost type.
EXPENDITURE_TYPES = {
    "labor": ("Professional", "ST"),
    "travel": ("Travel", "ER"),
    "software": ("Software", "VI"),
    "subcontract": ("Subcontract", "VI"),
}
MISTAKE = Decimal("2400.00")  # the travel item charged to PRJ-0002 by mistake, reversed
WRONG_RATE = Decimal("1.10")  # the re-costed labor item's first cost, x its right cost


@dataclass
class EbsSeed:
    """What the seed made: projects by number, task ids by the world's task key, the items
    by the world's line key, and the planted items."""

    ebs: Ebs
    tasks: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    mistake: int = 0  # the item charged by mistake
    reversal: int = 0  # its negative item
    recosted: int = 0  # the labor item costed twice
    last_update: datetime = datetime(2000, 1, 1)  # noqa: DTZ001 - a DATE of the source


def ebs_date(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A DATE of the source: no zone (the database's, DB_TIMEZONE)."""
    return datetime(year, month, day, hour, minute)  # noqa: DTZ001 - EBS's DATE has no zone


def evening(day: date, n: int) -> datetime:
    """The LAST_UPDATE_DATE of the n-th line entered on the evening after `day`."""
    return datetime.combine(day + timedelta(days=1), time(18)) + timedelta(seconds=n % 7200)


def seed_demo(engine: Engine, world: PsaWorld, *, dirty: bool = False) -> EbsSeed:
    """The demo EBS in the schema `engine` names (created before: `Ebs.create`)."""
    sample = World(SampleSettings(seed=world.seed, projects=world.projects, actuals=world.actuals))
    _people, _cards, rates = psa_timecards(world)
    created = datetime.combine(sample.window_start - timedelta(days=40), time(9))
    ebs = Ebs(engine, rates, created)
    seed = EbsSeed(ebs)
    tables = Structure(sample).tables()
    with ebs.bulk():
        for p in sample.projects:
            ebs.add_project(p.key, p.name, p.currency, p.start, p.finish,
                            status="CLOSED" if p.status == "Completed" else "APPROVED",
                            at=datetime.combine(p.start - timedelta(days=14),
                                                time(10)))  # fmt: skip
        template = ebs.add_project(TEMPLATE, "Consulting Template", "USD", date(2024, 1, 1),
                                   date(2024, 12, 31), template=True, at=created)  # fmt: skip
        ebs.add_task(template, "1", "Template phase", None, None, at=created)
        leaves: dict[str, list[tuple[date, str]]] = {}
        tasks = tables["tasks"]
        for i in range(tasks.size):
            task = tasks.make(i, sample.e0)
            assert isinstance(task, TaskRecord)
            project = ebs.projects[task.project_ref]
            parent = seed.tasks.get(task.parent_ref or "")
            at = datetime.combine((task.planned_start or date(2025, 1, 1)) - timedelta(days=10),
                                  time(11)) + timedelta(seconds=i)  # fmt: skip
            seed.tasks[task.external_id] = ebs.add_task(
                project, task.wbs_code or task.external_id, task.name, task.planned_start,
                task.planned_finish, parent=parent, level=1 + (task.wbs_code or "").count("."),
                at=at,
            )  # fmt: skip
            if task.parent_ref is not None and task.planned_start is not None:
                leaves.setdefault(task.project_ref, []).append(
                    (task.planned_start, task.external_id)
                )
        lines = ActualLines(sample)
        labor_seen = 0
        for i in range(world.actuals):
            line = lines.line(i, 0, 0, 0, sample.e0)
            if line.project_ref is None or line.amount is None or not line.currency:
                continue
            project = ebs.projects[line.project_ref]
            task_key = line.task_ref or _leaf_on(leaves[line.project_ref], line.posted_on)
            kind, linkage = EXPENDITURE_TYPES[line.cost_type]
            if linkage == "ST":
                labor_seen += 1
                linkage = "OT" if labor_seen % 9 == 0 else "ST"
            is_labor = line.cost_type == "labor"
            amount = line.amount
            if is_labor and line.project_ref == "PRJ-0001" and not seed.recosted:
                amount = cents(line.amount * WRONG_RATE)  # costed at the wrong rate first
            item = ebs.charge(
                project, seed.tasks[task_key], kind, linkage, line.posted_on, amount,
                line.currency, quantity=line.hours if is_labor else Decimal(1),
                uom="HOURS" if is_labor else "EACH", at=evening(line.posted_on, i),
                reference=line.external_id,
            )  # fmt: skip
            seed.items[line.external_id] = item
            if amount != line.amount:
                seed.recosted = item
        if dirty:
            _dirty(ebs, seed)
    # The planted adjustments, entered after the lines they correct.
    day = date(2025, 3, 10)
    seed.mistake = ebs.charge(
        ebs.projects["PRJ-0002"], _first_task(seed, "PRJ-0002"), "Travel", "ER", day,
        MISTAKE, "GBP", quantity=Decimal(1), uom="EACH", at=evening(day, 0),
        reference="charged to the wrong project",
    )  # fmt: skip
    seed.reversal = ebs.reverse(seed.mistake, at=evening(day + timedelta(days=4), 0),
                                day=day + timedelta(days=4))  # fmt: skip
    costed = ebs.item(seed.recosted)
    ref = costed["ORIG_TRANSACTION_REFERENCE"]
    world_line = lines.line(int(ref.split("-")[1]) - 1, 0, 0, 0, sample.e0)
    assert world_line.amount is not None
    later = costed["EXPENDITURE_ITEM_DATE"] + timedelta(days=35)
    ebs.recost(seed.recosted, world_line.amount, at=evening(later, 0), gl_date=later)
    with ebs.bulk():  # each version's rows in one write (a version flushes the one before)
        _budgets(ebs, sample, tables["budgets"], template)
    _rates(ebs, rates)
    seed.last_update = max_update(engine)
    return seed


def _leaf_on(leaves: list[tuple[date, str]], day: date) -> str:
    """The leaf task planned to start last on or before `day` (else the first)."""
    ordered = sorted(leaves)
    i = bisect_right([d for d, _ in ordered], day) - 1
    return ordered[max(i, 0)][1]


def _first_task(seed: EbsSeed, project: str) -> int:
    return min(v for k, v in seed.tasks.items() if k.startswith(f"{project}."))


def _budgets(ebs: Ebs, sample: World, budgets: Table, template: Project) -> None:
    """The world's baseline (version 1) and current budget (version 2) per project, a draft
    and a revenue budget that do not count, and the template's budget."""
    made = [budgets.make(i, sample.e0) for i in range(budgets.size)]
    for kind in ("baseline", "current"):
        for record in made:
            if not isinstance(record, BudgetRecord) or record.kind != kind:
                continue
            project = ebs.projects[record.project_ref]
            lines = [_budget_line(ln) for ln in record.lines]
            at = datetime.combine(record.effective_from, time(15))
            ebs.baseline(project, lines, at=at, name=record.label or kind,
                         baselined=record.effective_from)  # fmt: skip
    p1, p4 = ebs.projects["PRJ-0001"], ebs.projects["PRJ-0004"]
    start, end = month_bounds("2025-04")
    draft = [BudgetLine(0, "subcontract", start, end, Decimal("99000.00"), Decimal("99000.00"))]
    ebs.baseline(p1, draft, at=ebs_date(2025, 4, 2, 9), name="What-if", status="W")
    revenue = [BudgetLine(0, "revenue", start, end, Decimal("750000.00"), Decimal("750000.00"))]
    ebs.baseline(p4, revenue, at=ebs_date(2025, 2, 1, 9), name="Revenue", budget_type="AR")
    start, end = month_bounds("2024-06")
    ebs.baseline(template, [BudgetLine(0, "labor", start, end, Decimal("50000.00"),
                                       Decimal("62500.00"), Decimal("400.00"))],
                 at=ebs_date(2024, 1, 5, 9), name="Template budget")  # fmt: skip


def _budget_line(line: BudgetLineRecord) -> BudgetLine:
    start, end = month_bounds(line.period or "")
    labor = line.cost_type == "labor"
    burdened = cents(line.amount * LABOR_BURDEN) if labor else line.amount
    return BudgetLine(0, line.cost_type, start, end, line.amount, burdened,
                      line.hours if labor else None)  # fmt: skip


def _rates(ebs: Ebs, rates: Rates) -> None:
    with ebs.bulk():
        for currency, (days, values) in sorted(rates.series.items()):
            for day, value in zip(days, values, strict=True):
                ebs.add_rate(currency, "USD", day, value,
                             at=datetime.combine(day - timedelta(days=1), time(16)))  # fmt: skip


def _dirty(ebs: Ebs, seed: EbsSeed) -> None:
    """A line without its project currency: the connector must reject it."""
    project = ebs.projects["PRJ-0005"]
    day = date(2025, 6, 3)
    item = ebs.charge(project, _first_task(seed, "PRJ-0005"), "Travel", "ER", day,
                      Decimal("310.00"), "USD", quantity=Decimal(1), uom="EACH",
                      at=evening(day, 1), reference="dirty")  # fmt: skip
    ebs.flush()
    cdl = t.PA_COST_DISTRIBUTION_LINES_ALL
    with ebs.engine.begin() as conn:
        conn.execute(update(cdl).where(cdl.c.EXPENDITURE_ITEM_ID == item)
                     .values(PROJECT_CURRENCY_CODE=None))  # fmt: skip


def max_update(engine: Engine) -> datetime:
    """The latest LAST_UPDATE_DATE of any table (the sandbox's clock reached)."""
    from sqlalchemy import func, select

    latest = datetime(2000, 1, 1)  # noqa: DTZ001 - a DATE of the source
    with engine.connect() as conn:
        for table in t.TABLES:
            value = conn.scalar(select(func.max(table.c.LAST_UPDATE_DATE)))
            if value is not None:
                latest = max(latest, value if isinstance(value, datetime)
                             else datetime.fromisoformat(str(value)))  # fmt: skip
    return latest
