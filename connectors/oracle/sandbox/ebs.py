"""An EBS-shaped Projects schema of our own, in SQLite or PostgreSQL, written the way Oracle
Projects writes its tables, so the connector's statements read it as they read EBS.

`Ebs` creates the tables (`create`) in the schema the connector is configured with and
writes through EBS's own motions, each stamping the WHO columns with the sandbox's clock (a
DATE without zone, in `DB_TIMEZONE`):
- `add_project` / `add_task`: PA_PROJECTS_ALL (ORG_ID: the operating unit of the project's
  functional currency, `OPERATING_UNITS`), PA_TASKS;
- `charge`: an expenditure item costed at once: PA_EXPENDITURE_ITEMS_ALL with its amounts in
  the transaction (DENOM_), functional (RAW_COST, ACCT_CURRENCY_CODE) and project currency
  (PROJECT_), and its raw cost distribution line (LINE_TYPE R, LINE_NUM 1; AMOUNT in
  PROJFUNC_CURRENCY_CODE, ACCT_RAW_COST in ACCT_CURRENCY_CODE, alike here), burdened cost =
  raw x `burden` (labor: 1.25);
- `recost`: a new cost for an item (a rate changed): the item's amounts change, its live raw
  line is marked REVERSED_FLAG Y, a reversing line (LINE_NUM_REVERSED) and a new line added;
- `reverse`: a negative item (ADJUSTED_EXPENDITURE_ITEM_ID) with its own negative line;
- `reburden`: a revised burden schedule recompiled: the line's *_BURDENED_CHANGE buckets;
- `baseline`: a baselined cost budget version (type AC, status B) that becomes current: the
  previous current version's CURRENT_FLAG turns N (its LAST_UPDATE_DATE moves), the first
  one keeps CURRENT_ORIGINAL_FLAG Y; `draft` a working version (status W), not baselined.
  Its lines are planned in the project currency (PROJECT_ and TXN_ amounts alike) and
  carry the project functional amounts (RAW_COST, BURDENED_COST) at the line's rates;
- `add_rate`: GL_DAILY_RATES rows, each with its inverse as EBS keeps them.

Amounts are converted with the rates given (`Rates`: the PSA sample's monthly rates to USD,
`psa_mirror.in_currency`), rounded to the cent per line.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Table, func, select, update
from sqlalchemy.schema import CreateSchema

from pmo_ledger.connectors.oracle.ebs import tables as t
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import Rates, in_currency

#: The sandbox database's time zone: EBS servers often run on the head office's clock.
DB_TIMEZONE = "America/Los_Angeles"
CENT = Decimal("0.01")
LABOR_BURDEN = Decimal("1.25")


@dataclass(frozen=True, slots=True)
class OperatingUnit:
    org_id: int
    name: str
    currency: str  # the functional currency of its ledger


#: Operating units by functional currency; a project in another currency (GBP) goes to the
#: US one, so its project currency differs from its operating unit's.
OPERATING_UNITS = {
    "USD": OperatingUnit(204, "Vision Operations", "USD"),
    "EUR": OperatingUnit(458, "Vision Germany", "EUR"),
}


def operating_unit(currency: str) -> OperatingUnit:
    return OPERATING_UNITS.get(currency, OPERATING_UNITS["USD"])


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Project:
    project_id: int
    number: str  # SEGMENT1
    currency: str
    ou: OperatingUnit


class Ebs:
    """Writes to an EBS-shaped schema through `engine` (its statements already name the
    schema: `connectors.oracle.ebs.source.make_source_engine`)."""

    def __init__(self, engine: Engine, rates: Rates, now: datetime) -> None:
        self.engine = engine
        self.rates = rates
        self.now = now  # the sandbox's clock: a naive DATE in DB_TIMEZONE
        self.projects: dict[str, Project] = {}
        self._pending: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        self._bulk = 0
        self._ids: dict[str, int] = {}
        self._load()

    # --- set-up ------------------------------------------------------------------------

    @staticmethod
    def create(engine: Engine, schema: str) -> None:
        """The tables in `schema` (PostgreSQL: the schema too)."""
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(CreateSchema(schema, if_not_exists=True))
            t.METADATA.create_all(conn)

    def _load(self) -> None:
        """Projects and the next ids of what is already there (a mutation after a seed)."""
        nexts = {
            "project": (t.PA_PROJECTS_ALL.c.PROJECT_ID, 1000),
            "task": (t.PA_TASKS.c.TASK_ID, 5000),
            "item": (t.PA_EXPENDITURE_ITEMS_ALL.c.EXPENDITURE_ITEM_ID, 100_000),
            "version": (t.PA_BUDGET_VERSIONS.c.BUDGET_VERSION_ID, 2000),
            "assignment": (t.PA_RESOURCE_ASSIGNMENTS.c.RESOURCE_ASSIGNMENT_ID, 30_000),
            "budget_line": (t.PA_BUDGET_LINES.c.BUDGET_LINE_ID, 60_000),
        }
        with self.engine.connect() as conn:
            for name, (column, floor) in nexts.items():
                self._ids[name] = max(int(conn.scalar(select(func.max(column))) or 0), floor)
            p = t.PA_PROJECTS_ALL.c
            for row in conn.execute(select(p.PROJECT_ID, p.SEGMENT1, p.PROJECT_CURRENCY_CODE,
                                           p.ORG_ID, p.PROJFUNC_CURRENCY_CODE)):  # fmt: skip
                ou = next(u for u in OPERATING_UNITS.values() if u.org_id == row[3])
                self.projects[row[1]] = Project(int(row[0]), row[1], row[2], ou)

    def _next(self, name: str) -> int:
        self._ids[name] += 1
        return self._ids[name]

    def _who(self, at: datetime | None = None) -> dict[str, Any]:
        at = at or self.now
        return {"CREATION_DATE": at, "CREATED_BY": 1318, "LAST_UPDATE_DATE": at,
                "LAST_UPDATED_BY": 1318, "LAST_UPDATE_LOGIN": 0}  # fmt: skip

    def _add(self, table: Table, row: dict[str, Any]) -> None:
        self._pending[table].append(row)
        if not self._bulk:
            self.flush()

    def flush(self) -> None:
        """Write what is pending, table by table in creation order, in one transaction."""
        if not any(self._pending.values()):
            return
        with self.engine.begin() as conn:
            for table in t.TABLES:
                rows = self._pending.pop(table, [])
                for start in range(0, len(rows), 5_000):
                    conn.execute(table.insert(), rows[start : start + 5_000])
        self._pending.clear()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Inserts inside are written together at the end (a seed of many rows)."""
        self._bulk += 1
        try:
            yield
        finally:
            self._bulk -= 1
            if not self._bulk:
                self.flush()

    # --- projects and tasks --------------------------------------------------------------

    def add_project(
        self, number: str, name: str, currency: str, start: date, finish: date, *,
        status: str = "APPROVED", template: bool = False, at: datetime | None = None,
    ) -> Project:  # fmt: skip
        ou = operating_unit(currency)
        project = Project(self._next("project"), number, currency, ou)
        self._add(t.PA_PROJECTS_ALL, {
            "PROJECT_ID": project.project_id, "SEGMENT1": number, "NAME": name[:30],
            "LONG_NAME": name, "PROJECT_TYPE": "Time and Materials",
            "PROJECT_STATUS_CODE": status, "TEMPLATE_FLAG": "Y" if template else "N",
            "ORG_ID": ou.org_id, "CARRYING_OUT_ORGANIZATION_ID": ou.org_id + 1,
            "START_DATE": start, "COMPLETION_DATE": finish, "CLOSED_DATE": None,
            "PROJECT_CURRENCY_CODE": currency, "PROJFUNC_CURRENCY_CODE": ou.currency,
            **self._who(at),
        })  # fmt: skip
        self.projects[number] = project
        return project

    def add_task(
        self, project: Project, number: str, name: str, start: date | None, finish: date | None,
        *, parent: int | None = None, top: int | None = None, level: int = 1,
        at: datetime | None = None,
    ) -> int:  # fmt: skip
        task_id = self._next("task")
        self._add(t.PA_TASKS, {
            "TASK_ID": task_id, "PROJECT_ID": project.project_id, "TASK_NUMBER": number,
            "TASK_NAME": name[:20], "LONG_TASK_NAME": name, "PARENT_TASK_ID": parent,
            "TOP_TASK_ID": top or task_id, "WBS_LEVEL": level, "START_DATE": start,
            "COMPLETION_DATE": finish, "CHARGEABLE_FLAG": "Y", **self._who(at),
        })  # fmt: skip
        return task_id

    def rename(self, project: Project, name: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            c = t.PA_PROJECTS_ALL.c
            conn.execute(update(t.PA_PROJECTS_ALL).where(c.PROJECT_ID == project.project_id)
                         .values(NAME=name[:30], LONG_NAME=name, LAST_UPDATE_DATE=at))  # fmt: skip

    # --- costs ----------------------------------------------------------------------------

    def amounts(
        self, amount: Decimal, currency: str, project: Project, day: date, burden: Decimal
    ) -> dict[str, Any]:
        """An item's amounts in the transaction, functional and project currency."""
        acct = in_currency(amount, currency, project.ou.currency, day, self.rates)
        proj = in_currency(amount, currency, project.currency, day, self.rates)
        return {
            "DENOM_RAW_COST": amount, "DENOM_BURDENED_COST": cents(amount * burden),
            "RAW_COST": acct, "BURDEN_COST": cents(acct * burden),
            "PROJECT_RAW_COST": proj, "PROJECT_BURDENED_COST": cents(proj * burden),
        }  # fmt: skip

    def charge(
        self, project: Project, task_id: int, expenditure_type: str, linkage: str, day: date,
        amount: Decimal, currency: str, *, quantity: Decimal | None, uom: str,
        at: datetime | None = None, adjusts: int | None = None, reference: str | None = None,
    ) -> int:  # fmt: skip
        """A costed expenditure item and its raw line; the item's id."""
        burden = LABOR_BURDEN if linkage in ("ST", "OT") else Decimal(1)
        item_id = self._next("item")
        money = self.amounts(amount, currency, project, day, burden)
        self._add(t.PA_EXPENDITURE_ITEMS_ALL, {
            "EXPENDITURE_ITEM_ID": item_id, "EXPENDITURE_ID": item_id // 10,
            "PROJECT_ID": project.project_id, "TASK_ID": task_id, "ORG_ID": project.ou.org_id,
            "EXPENDITURE_TYPE": expenditure_type, "SYSTEM_LINKAGE_FUNCTION": linkage,
            "EXPENDITURE_ITEM_DATE": day, "QUANTITY": quantity, "UNIT_OF_MEASURE": uom,
            **money, "DENOM_CURRENCY_CODE": currency, "ACCT_CURRENCY_CODE": project.ou.currency,
            "PROJECT_CURRENCY_CODE": project.currency,
            "PROJFUNC_CURRENCY_CODE": project.ou.currency, "COST_DISTRIBUTED_FLAG": "Y",
            "BILLABLE_FLAG": "Y", "ADJUSTED_EXPENDITURE_ITEM_ID": adjusts,
            "TRANSACTION_SOURCE": "PMO_SANDBOX", "ORIG_TRANSACTION_REFERENCE": reference,
            **self._who(at),
        })  # fmt: skip
        self._line(item_id, 1, project, task_id, money, quantity, day, at)
        return item_id

    def _line(
        self, item_id: int, line_num: int, project: Project, task_id: int,
        money: Mapping[str, Any], quantity: Decimal | None, gl_date: date,
        at: datetime | None, reverses: int | None = None,
    ) -> None:  # fmt: skip
        period = gl_date.strftime("%b-%y").upper()
        self._add(t.PA_COST_DISTRIBUTION_LINES_ALL, {
            "EXPENDITURE_ITEM_ID": item_id, "LINE_NUM": line_num, "LINE_TYPE": "R",
            "PROJECT_ID": project.project_id, "TASK_ID": task_id, "ORG_ID": project.ou.org_id,
            "AMOUNT": money["RAW_COST"], "QUANTITY": quantity,
            "BURDENED_COST": money["BURDEN_COST"],
            "PROJFUNC_CURRENCY_CODE": project.ou.currency,
            # The sandbox charges from the project's own operating unit: the expenditure
            # OU's functional currency is the project's functional one.
            "ACCT_RAW_COST": money["RAW_COST"], "ACCT_BURDENED_COST": money["BURDEN_COST"],
            "ACCT_CURRENCY_CODE": project.ou.currency,
            "PROJECT_CURRENCY_CODE": project.currency,
            "PROJECT_RAW_COST": money["PROJECT_RAW_COST"],
            "PROJECT_BURDENED_COST": money["PROJECT_BURDENED_COST"], "GL_DATE": gl_date,
            "PA_DATE": gl_date, "GL_PERIOD_NAME": period, "PA_PERIOD_NAME": period,
            "TRANSFER_STATUS_CODE": "A", "REVERSED_FLAG": None, "LINE_NUM_REVERSED": reverses,
            **self._who(at),
        })  # fmt: skip

    def item(self, item_id: int) -> dict[str, Any]:
        """An expenditure item's row."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.PA_EXPENDITURE_ITEMS_ALL).where(
                t.PA_EXPENDITURE_ITEMS_ALL.c.EXPENDITURE_ITEM_ID == item_id)).mappings().one()
        return dict(row)

    def _project_of(self, item: Mapping[str, Any]) -> Project:
        return next(p for p in self.projects.values() if p.project_id == item["PROJECT_ID"])

    def recost(self, item_id: int, amount: Decimal, at: datetime, gl_date: date) -> None:
        """The item costed again at `amount` (transaction currency): its live raw line is
        reversed by a new line and a new raw line carries the new cost, in `gl_date`."""
        self.flush()
        item = self.item(item_id)
        project = self._project_of(item)
        burden = LABOR_BURDEN if item["SYSTEM_LINKAGE_FUNCTION"] in ("ST", "OT") else Decimal(1)
        money = self.amounts(amount, item["DENOM_CURRENCY_CODE"], project,
                             item["EXPENDITURE_ITEM_DATE"], burden)  # fmt: skip
        cdl = t.PA_COST_DISTRIBUTION_LINES_ALL
        with self.engine.begin() as conn:
            live = _live_line(conn, item_id)
            last = conn.scalar(select(func.max(cdl.c.LINE_NUM)).where(
                cdl.c.EXPENDITURE_ITEM_ID == item_id))  # fmt: skip
            conn.execute(update(cdl).where(
                cdl.c.EXPENDITURE_ITEM_ID == item_id, cdl.c.LINE_NUM == live["LINE_NUM"],
            ).values(REVERSED_FLAG="Y", LAST_UPDATE_DATE=at))  # fmt: skip
            conn.execute(update(t.PA_EXPENDITURE_ITEMS_ALL).where(
                t.PA_EXPENDITURE_ITEMS_ALL.c.EXPENDITURE_ITEM_ID == item_id,
            ).values(**money, LAST_UPDATE_DATE=at))  # fmt: skip
        change = {k: live[f"{k}_BURDENED_CHANGE"] or 0 for k in ("PROJFUNC", "PROJECT")}
        old = {"RAW_COST": -live["AMOUNT"],  # a burden change is reversed with the line
               "BURDEN_COST": -(live["BURDENED_COST"] + change["PROJFUNC"]),
               "PROJECT_RAW_COST": -live["PROJECT_RAW_COST"],
               "PROJECT_BURDENED_COST": -(live["PROJECT_BURDENED_COST"]
                                          + change["PROJECT"])}  # fmt: skip
        quantity = live["QUANTITY"]
        task = int(item["TASK_ID"])
        self._line(item_id, int(last) + 1, project, task, old,
                   -quantity if quantity is not None else None, gl_date, at,
                   reverses=int(live["LINE_NUM"]))  # fmt: skip
        self._line(item_id, int(last) + 2, project, task, money, quantity, gl_date, at)

    def reburden(self, item_id: int, burden: Decimal, at: datetime) -> None:
        """A revised burden schedule recompiled at `at` (EBS 12.1+'s burden schedule change):
        the item's live raw line keeps its burdened cost and gets the difference to raw x
        `burden` in its *_BURDENED_CHANGE buckets, LAST_UPDATE_DATE moved to `at`."""
        self.flush()
        cdl = t.PA_COST_DISTRIBUTION_LINES_ALL
        with self.engine.begin() as conn:
            live = _live_line(conn, item_id)
            changes = {
                f"{bucket}BURDENED_CHANGE": cents(live[raw] * burden) - live[burdened]
                for bucket, raw, burdened in (
                    ("PROJECT_", "PROJECT_RAW_COST", "PROJECT_BURDENED_COST"),
                    ("PROJFUNC_", "AMOUNT", "BURDENED_COST"),
                    ("ACCT_", "ACCT_RAW_COST", "ACCT_BURDENED_COST"),
                )
            }  # fmt: skip
            conn.execute(update(cdl).where(
                cdl.c.EXPENDITURE_ITEM_ID == item_id, cdl.c.LINE_NUM == live["LINE_NUM"],
            ).values(**changes, LAST_UPDATE_DATE=at))  # fmt: skip

    def reverse(self, item_id: int, at: datetime, day: date) -> int:
        """A negative item that adjusts `item_id` in full, dated `day`; its id."""
        self.flush()
        item = self.item(item_id)
        quantity = item["QUANTITY"]
        return self.charge(
            self._project_of(item), int(item["TASK_ID"]), item["EXPENDITURE_TYPE"],
            item["SYSTEM_LINKAGE_FUNCTION"], day, -item["DENOM_RAW_COST"],
            item["DENOM_CURRENCY_CODE"], quantity=-quantity if quantity is not None else None,
            uom=item["UNIT_OF_MEASURE"], at=at, adjusts=item_id,
            reference=f"reverses {item_id}",
        )  # fmt: skip

    # --- budgets ----------------------------------------------------------------------------

    def baseline(
        self, project: Project, lines: Sequence[BudgetLine], *, at: datetime, name: str,
        budget_type: str = "AC", status: str = "B", baselined: date | None = None,
    ) -> int:  # fmt: skip
        """A budget version with its lines. Status B: it becomes the current baselined
        version of its type (the previous current one is superseded); W: a working draft."""
        bv = t.PA_BUDGET_VERSIONS
        self.flush()
        with self.engine.begin() as conn:
            number = int(conn.scalar(select(func.max(bv.c.VERSION_NUMBER)).where(
                bv.c.PROJECT_ID == project.project_id, bv.c.BUDGET_TYPE_CODE == budget_type,
                bv.c.BUDGET_STATUS_CODE == status)) or 0) + 1  # fmt: skip
            first = number == 1
            if status == "B":
                conn.execute(update(bv).where(
                    bv.c.PROJECT_ID == project.project_id, bv.c.BUDGET_TYPE_CODE == budget_type,
                    bv.c.CURRENT_FLAG == "Y",
                ).values(CURRENT_FLAG="N", LAST_UPDATE_DATE=at))  # fmt: skip
        version = self._next("version")
        functional = [self._functional(project, ln) for ln in lines]
        raw = sum((f[0] for f in functional), Decimal(0))
        self._add(bv, {
            "BUDGET_VERSION_ID": version, "PROJECT_ID": project.project_id,
            "BUDGET_TYPE_CODE": budget_type, "VERSION_NUMBER": number, "VERSION_NAME": name,
            "BUDGET_STATUS_CODE": status, "CURRENT_FLAG": "Y" if status == "B" else "N",
            "CURRENT_ORIGINAL_FLAG": "Y" if status == "B" and first else "N",
            "BASELINED_DATE": (baselined or at.date()) if status == "B" else None,
            "RAW_COST": raw, "BURDENED_COST": sum((f[1] for f in functional), Decimal(0)),
            "LABOR_QUANTITY": sum((ln.hours or 0 for ln in lines), Decimal(0)),
            **self._who(at),
        })  # fmt: skip
        assignments: dict[tuple[int, str], int] = {}
        for ln, (raw_pfc, burdened_pfc) in zip(lines, functional, strict=True):
            key = (ln.task_id, ln.resource)
            if key not in assignments:
                assignments[key] = self._next("assignment")
                self._add(t.PA_RESOURCE_ASSIGNMENTS, {
                    "RESOURCE_ASSIGNMENT_ID": assignments[key], "BUDGET_VERSION_ID": version,
                    "PROJECT_ID": project.project_id, "TASK_ID": ln.task_id,
                    "RESOURCE_LIST_MEMBER_ID": zlib.crc32(ln.resource.encode()) % 1000,
                    "UNIT_OF_MEASURE": "HOURS" if ln.hours is not None else "DOLLARS",
                    **self._who(at),
                })  # fmt: skip
            self._add(t.PA_BUDGET_LINES, {
                "BUDGET_LINE_ID": self._next("budget_line"), "BUDGET_VERSION_ID": version,
                "RESOURCE_ASSIGNMENT_ID": assignments[key], "START_DATE": ln.start,
                "END_DATE": ln.end, "PERIOD_NAME": ln.start.strftime("%b-%y").upper(),
                "QUANTITY": ln.hours, "RAW_COST": raw_pfc, "BURDENED_COST": burdened_pfc,
                "PROJECT_RAW_COST": ln.raw, "PROJECT_BURDENED_COST": ln.burdened,
                "TXN_RAW_COST": ln.raw, "TXN_BURDENED_COST": ln.burdened,
                "REVENUE": None, "TXN_CURRENCY_CODE": project.currency, **self._who(at),
            })  # fmt: skip
        return version

    def _functional(self, project: Project, line: BudgetLine) -> tuple[Decimal, Decimal]:
        """A budget line's raw and burdened amounts (project currency, planned in it: the
        transaction currency too) in the project functional currency at its start's rates."""
        to, day = project.ou.currency, line.start
        return (in_currency(line.raw, project.currency, to, day, self.rates),
                in_currency(line.burdened, project.currency, to, day, self.rates))  # fmt: skip

    # --- rates --------------------------------------------------------------------------------

    def add_rate(
        self, from_ccy: str, to_ccy: str, day: date, rate: Decimal, *, kind: str = "Corporate",
        at: datetime | None = None,
    ) -> None:  # fmt: skip
        """A daily rate and its inverse (as GL keeps both)."""
        inverse = (Decimal(1) / rate).quantize(Decimal("0.0000000001"), ROUND_HALF_UP)
        for a, b, r in ((from_ccy, to_ccy, rate), (to_ccy, from_ccy, inverse)):
            self._add(t.GL_DAILY_RATES, {
                "FROM_CURRENCY": a, "TO_CURRENCY": b, "CONVERSION_DATE": day,
                "CONVERSION_TYPE": kind, "CONVERSION_RATE": r, "STATUS_CODE": "C",
                **self._who(at),
            })  # fmt: skip


def _live_line(conn: Connection, item_id: int) -> RowMapping:
    """The item's raw line that is neither reversed nor a reversal."""
    cdl = t.PA_COST_DISTRIBUTION_LINES_ALL
    return conn.execute(select(cdl).where(
        cdl.c.EXPENDITURE_ITEM_ID == item_id, cdl.c.LINE_TYPE == "R",
        cdl.c.REVERSED_FLAG.is_(None), cdl.c.LINE_NUM_REVERSED.is_(None),
    )).mappings().one()  # fmt: skip


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One period of a budget: `resource` names the assignment (a cost type), `task_id` 0 for
    the project level; `hours` for labor."""

    task_id: int
    resource: str
    start: date
    end: date
    raw: Decimal
    burdened: Decimal
    hours: Decimal | None = None


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a 'YYYY-MM' period (the sandbox's PA periods are months)."""
    year, month = (int(x) for x in period.split("-"))
    start = date(year, month, 1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end
