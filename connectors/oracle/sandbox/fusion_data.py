"""The data of the fake Fusion pod: the sample world's projects as Fusion projects, their
tasks, costed transactions, baselined budgets and daily rates, with what a real pod holds
that a connector must get right.

The world is config/demo.toml's sample world by default (`DEMO_PSA`: seed 42, 6 projects,
3000 actual lines; `erp_mirror` and `psa_mirror` read the same): project numbers, names,
currencies and dates are the world's, every actual line of the world (labor and expenses)
is one costed expenditure item of its project (raw cost = the line's amount in the project
currency at the sample's cross rates; burdened = raw plus a 15 % labor overhead), so the pod
makes sense beside the other sandboxes. On top of the world:

- the business unit `US1 Business Unit` keeps its books in USD: a project in EUR or GBP has
  a project currency that differs from its business unit's (its costs carry both amounts);
- every 50th labor item was reversed (a new item with the negated quantity and amounts) and
  entered again with a quarter hour less: reversals net out;
- a project template (`projectTemplates`, never a project) and, with `dirty`, a cost that
  names no project and a cost whose amount is text Fusion would never send (`"1.234,50"`);
- each project's `Approved Cost Budget` has a superseded baseline (version 1), the current
  baseline (version 2) and a working version (3, never counted); an `Approved Revenue
  Budget` baseline sits beside it (another plan type, never read as the cost budget);
- `Corporate` daily rates EUR/GBP -> USD (and `Spot` rates a finder must leave out).

`mutate()` plays one round of changes (re-costing, reversals, new costs, a renamed project,
a new baseline) on the pod's clock, for incremental tests. Stamps are unique: the clock
ticks one second per write (`TickingClock`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pmo_ledger.connectors.kit.sandbox_clock import TickingClock
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import DEMO_PSA, PsaWorld

__all__ = ["DEMO_PSA", "FusionData", "PsaWorld", "Row"]

Row = dict[str, Any]
BU_NAME, BU_CURRENCY = "US1 Business Unit", "USD"
COST_PLAN, REVENUE_PLAN = "Approved Cost Budget", "Approved Revenue Budget"
#: Labor overhead: burdened = raw x (1 + this) for labor items.
LABOR_BURDEN = Decimal("0.15")
_CENT = Decimal("0.01")
#: The pod's clock starts here (after the world's 2025 postings).
EPOCH = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
#: Row ids start here (Fusion ids are long integers).
PROJECT_ID0, TASK_ID0, ITEM_ID0 = 300_000_100_000, 300_000_200_000, 300_000_900_000
VERSION_ID0, ELEMENT_ID0, LINE_ID0, DETAIL_ID0 = (
    300_000_300_000, 300_000_400_000, 300_000_500_000, 300_000_600_000,
)  # fmt: skip


def stamp(at: datetime) -> str:
    """A Fusion timestamp: ISO 8601 with milliseconds and the offset."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+00:00"


def money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


@dataclass
class Budget:
    """One plan version with its resources (their amounts and periodic details inline)."""

    version: Row
    resources: list[Row] = field(default_factory=list)


class FusionData(TickingClock):
    """The pod's rows, its clock and a lock; the server reads them on each request."""

    def __init__(
        self,
        world: PsaWorld | None = DEMO_PSA,
        *,
        dirty: bool = False,
        costs: int | None = None,
        start: datetime = EPOCH,
    ) -> None:
        super().__init__(start, name="Fusion pod's clock")
        self.lock = threading.RLock()
        self.projects: list[Row] = []
        self.templates: list[Row] = []
        self.tasks: dict[int, list[Row]] = {}
        self.costs: dict[int, Row] = {}
        self.budgets: dict[int, Budget] = {}
        self.rates: list[Row] = []
        self._next_item = ITEM_ID0
        self._rounds = 0
        w = world or DEMO_PSA
        if costs is not None:
            w = PsaWorld(seed=w.seed, projects=w.projects, actuals=costs)
        self.world = w
        self._seed(w, dirty)

    # --- writes ------------------------------------------------------------------------------

    def _touch(self, row: Row) -> Row:
        row["LastUpdateDate"] = stamp(self._tick())
        return row

    def _item_id(self) -> int:
        self._next_item += 1
        return self._next_item

    # --- the seed ----------------------------------------------------------------------------

    def _seed(self, w: PsaWorld, dirty: bool) -> None:
        from pmo_ledger.connectors.sample.actuals import ActualLines
        from pmo_ledger.connectors.sample.settings import SampleSettings
        from pmo_ledger.connectors.sample.world import World

        sample = World(SampleSettings(seed=w.seed, projects=w.projects, actuals=w.actuals))
        people = {r.key: r for r in sample.resources}
        by_key: dict[str, Row] = {}
        for p in sample.projects:
            manager = sample.resources[p.team[0]].name
            row = self._touch({
                "ProjectId": PROJECT_ID0 + p.index + 1, "ProjectNumber": p.key,
                "ProjectName": p.name, "ProjectStatus": p.status,
                "ProjectStartDate": p.start.isoformat(), "ProjectEndDate": p.finish.isoformat(),
                "ProjectCurrencyCode": p.currency, "BusinessUnitName": BU_NAME,
                "ProjectManagerName": manager, "CreationDate": stamp(self.now()),
            })  # fmt: skip
            self.projects.append(row)
            by_key[p.key] = row
            self._seed_tasks(row, p.index, p.start, p.finish)
        self.templates.append(self._touch({
            "ProjectTemplateId": PROJECT_ID0 + 9_000, "ProjectNumber": "TPL-CONSULTING",
            "ProjectName": "Consulting Engagement Template", "ProjectCurrencyCode": "USD",
            "BusinessUnitName": BU_NAME,
        }))  # fmt: skip
        lines = ActualLines(sample)
        for i in range(w.actuals):
            line = lines.line(i, 0, 0, 0, sample.e0)
            project = by_key.get(line.project_ref or "")
            if project is None or line.amount is None or not line.currency:
                continue
            person = people.get(line.resource_ref or "")
            self._add_cost(project, line.task_ref, line.cost_type, line.posted_on,
                           line.amount, line.currency, line.hours,
                           person.key if person else None)  # fmt: skip
            if line.cost_type == "labor" and i % 50 == 7:
                self._reverse_and_reenter(self._next_item)
        if dirty:
            self._dirty(by_key)
        for project in self.projects:
            self._seed_budgets(project)
        self._seed_rates(sample.window_start, sample.status_date)

    def _seed_tasks(self, project: Row, index: int, start: date, finish: date) -> None:
        pid = project["ProjectId"]
        base = TASK_ID0 + index * 100
        root = self._touch({
            "TaskId": base, "TaskNumber": "1", "TaskName": project["ProjectName"],
            "ParentTaskId": None, "TaskStartDate": start.isoformat(),
            "TaskFinishDate": finish.isoformat(),
        })  # fmt: skip
        rows = [root]
        for k in range(8):
            rows.append(self._touch({
                "TaskId": base + k + 1, "TaskNumber": f"1.{k + 1}",
                "TaskName": f"{project['ProjectNumber']}.T{3 * (k // 2) + 2 + k % 2:02d}",
                "ParentTaskId": base, "TaskStartDate": start.isoformat(),
                "TaskFinishDate": finish.isoformat(),
            }))  # fmt: skip
        self.tasks[pid] = rows

    def task_id(self, project: Row, task_ref: str | None) -> int:
        """The Fusion task of a world task key (`PRJ-0001.T05`); the root task for none."""
        rows = self.tasks[project["ProjectId"]]
        for row in rows[1:]:
            if row["TaskName"] == task_ref:
                return int(row["TaskId"])
        return int(rows[0]["TaskId"])

    def _add_cost(
        self,
        project: Row,
        task_ref: str | None,
        cost_type: str,
        day: date,
        amount: Decimal,
        currency: str,
        hours: Decimal | None,
        person: str | None,
    ) -> Row:
        from pmo_ledger.connectors.sample.world import convert_cents

        pccy = project["ProjectCurrencyCode"]
        raw_cents = convert_cents(int(amount * 100), currency, pccy)
        raw = Decimal(raw_cents).scaleb(-2)
        labor = cost_type == "labor"
        burdened = money(raw * (1 + LABOR_BURDEN)) if labor else raw
        item = self._item_id()
        task = self.task_id(project, task_ref)
        row = self._touch({
            "ExpenditureItemId": item, "ProjectId": project["ProjectId"],
            "ProjectNumber": project["ProjectNumber"], "TaskId": task,
            "TaskNumber": self._task_number(project, task), "ExpenditureItemDate": day.isoformat(),
            "ExpenditureTypeName": "Professional Labor" if labor else cost_type.title(),
            "ExpenditureCategoryName": "Labor" if labor else cost_type.title(),
            "Quantity": hours if labor else Decimal(1),
            "UnitOfMeasure": "Hours" if labor else "Each",
            "ProjectCurrencyCode": pccy, "ProjectRawCost": raw, "ProjectBurdenedCost": burdened,
            "PersonNumber": person, "ReversedExpenditureItemId": None,
            "CreationDate": stamp(self.now()),
        })  # fmt: skip
        self._ledger_amounts(row)
        self.costs[item] = row
        return row

    def _task_number(self, project: Row, task_id: int) -> str:
        for row in self.tasks[project["ProjectId"]]:
            if row["TaskId"] == task_id:
                return str(row["TaskNumber"])
        return "1"

    @staticmethod
    def _ledger_amounts(row: Row) -> None:
        """The business unit's (project ledger) amounts, in USD at the sample's cross rates."""
        from pmo_ledger.connectors.sample.world import convert_cents

        row["ProjectLedgerCurrencyCode"] = BU_CURRENCY
        for which in ("Raw", "Burdened"):
            value = row[f"Project{which}Cost"]
            if not isinstance(value, Decimal):
                row[f"ProjectLedger{which}Cost"] = None
                continue
            cents = convert_cents(int(value * 100), row["ProjectCurrencyCode"], BU_CURRENCY)
            row[f"ProjectLedger{which}Cost"] = Decimal(cents).scaleb(-2)

    def _reverse_and_reenter(self, item: int) -> None:
        """Reverse `item` (a new item with everything negated) and enter it again with a
        quarter hour less (its raw and burdened cost in proportion)."""
        original = self.costs[item]
        reversal = dict(original)
        reversal.update({
            "ExpenditureItemId": self._item_id(), "ReversedExpenditureItemId": item,
            "Quantity": -original["Quantity"], "ProjectRawCost": -original["ProjectRawCost"],
            "ProjectBurdenedCost": -original["ProjectBurdenedCost"],
        })  # fmt: skip
        self._ledger_amounts(self._touch(reversal))
        self.costs[reversal["ExpenditureItemId"]] = reversal
        hours = original["Quantity"] - Decimal("0.25")
        if hours <= 0:
            return
        again = dict(original)
        share = hours / original["Quantity"]
        again.update({
            "ExpenditureItemId": self._item_id(), "Quantity": hours,
            "ProjectRawCost": money(original["ProjectRawCost"] * share),
            "ProjectBurdenedCost": money(original["ProjectBurdenedCost"] * share),
        })  # fmt: skip
        self._ledger_amounts(self._touch(again))
        self.costs[again["ExpenditureItemId"]] = again

    def _dirty(self, by_key: dict[str, Row]) -> None:
        first = self.projects[0]
        orphan = self._add_cost(first, None, "travel", date(2025, 6, 2), Decimal("80.00"),
                                first["ProjectCurrencyCode"], None, None)  # fmt: skip
        orphan.update({"ProjectId": None, "ProjectNumber": None, "TaskId": None,
                       "TaskNumber": None})  # fmt: skip
        garbled = self._add_cost(first, None, "software", date(2025, 6, 3), Decimal("1234.50"),
                                 first["ProjectCurrencyCode"], None, None)  # fmt: skip
        garbled["ProjectRawCost"] = garbled["ProjectBurdenedCost"] = "1.234,50"
        garbled["ProjectLedgerRawCost"] = garbled["ProjectLedgerBurdenedCost"] = None

    def _seed_budgets(self, project: Row) -> None:
        totals: dict[str, Decimal] = {"Labor": Decimal(0), "Expense": Decimal(0)}
        for row in self.costs.values():
            if row["ProjectId"] != project["ProjectId"]:
                continue
            value = row["ProjectBurdenedCost"]
            if isinstance(value, Decimal):
                kind = "Labor" if row["ExpenditureCategoryName"] == "Labor" else "Expense"
                totals[kind] += value
        start = date.fromisoformat(project["ProjectStartDate"])
        finish = date.fromisoformat(project["ProjectEndDate"])
        for number, status, factor in ((1, "Baseline", Decimal("0.90")),
                                       (2, "Current Baseline", Decimal("1.05")),
                                       (3, "Current Working", Decimal("1.20"))):  # fmt: skip
            self._add_budget(project, COST_PLAN, number, status, totals, factor, start, finish)
        self._add_budget(project, REVENUE_PLAN, 1, "Current Baseline",
                         totals, Decimal("1.40"), start, finish)  # fmt: skip

    def _add_budget(
        self,
        project: Row,
        plan: str,
        number: int,
        status: str,
        totals: dict[str, Decimal],
        factor: Decimal,
        start: date,
        finish: date,
    ) -> Budget:
        vid = VERSION_ID0 + len(self.budgets) + 1
        version = self._touch({
            "PlanVersionId": vid, "ProjectId": project["ProjectId"],
            "ProjectNumber": project["ProjectNumber"], "FinancialPlanType": plan,
            "PlanVersionNumber": number, "PlanVersionName": f"Version {number}",
            "PlanVersionStatus": status,
            "BaselineDate": None if "Working" in status else self.now().date().isoformat(),
        })  # fmt: skip
        months = _months(start, finish)
        budget = Budget(version)
        for k, (klass, total) in enumerate(sorted(totals.items())):
            element = ELEMENT_ID0 + vid % 100_000 * 10 + k
            line_id = LINE_ID0 + vid % 100_000 * 10 + k
            amount = money(total * factor)
            share = money(amount / len(months))
            details = []
            for m, first in enumerate(months):
                part = share if m < len(months) - 1 else amount - share * (len(months) - 1)
                hours = money(part / 100) if klass == "Labor" else None
                details.append({
                    "PlanLineDetailId": DETAIL_ID0 + line_id % 1_000_000 * 100 + m,
                    "PeriodName": first.strftime("%b-%y"), "StartDate": first.isoformat(),
                    "EndDate": _month_end(first).isoformat(), "RawCostAmounts": part,
                    "BurdenedCostAmounts": part, "Quantity": hours,
                })  # fmt: skip
            budget.resources.append({
                "PlanningElementId": element, "TaskId": None,
                "ResourceName": "Labor" if klass == "Labor" else "Expenses",
                "ResourceClass": "Labor" if klass == "Labor" else "Financial Resources",
                "PlanningAmounts": [{
                    "PlanLineId": line_id, "Currency": project["ProjectCurrencyCode"],
                    "RawCostAmounts": amount, "BurdenedCostAmounts": amount,
                    "PlanningAmountDetails": details,
                }],
            })  # fmt: skip
        self.budgets[vid] = budget
        return budget

    def _seed_rates(self, first: date, last: date) -> None:
        from pmo_ledger.connectors.sample.world import USD_VALUE

        day = first
        while day <= last:
            wobble = Decimal(1) + Decimal((day.toordinal() % 17) - 8) / 1000
            for ccy in ("EUR", "GBP"):
                base = Decimal(USD_VALUE[ccy]) / Decimal(USD_VALUE["USD"])
                for kind, spread in (("Corporate", Decimal(1)), ("Spot", Decimal("1.01"))):
                    self.rates.append({
                        "FromCurrency": ccy, "ToCurrency": "USD",
                        "ConversionDate": day.isoformat(), "UserConversionType": kind,
                        "ConversionType": kind.upper(),
                        "ConversionRate": (base * wobble * spread).quantize(Decimal("0.000001")),
                    })  # fmt: skip
            day += timedelta(days=1)

    # --- a round of changes ---------------------------------------------------------------

    def mutate(self) -> dict[str, list[int]]:
        """One round of changes on the pod's clock: every 40th cost re-costed (+5 %, in
        place), three costs reversed, ten new costs, the first project renamed, a new
        current baseline for the second project. Returns the item ids touched by kind."""
        with self.lock:
            self._rounds += 1
            r = self._rounds
            valid = list(self.valid_costs())
            recosted = []
            for c in valid[r % 40 :: 40]:
                c["ProjectRawCost"] = money(c["ProjectRawCost"] * Decimal("1.05"))
                c["ProjectBurdenedCost"] = money(c["ProjectBurdenedCost"] * Decimal("1.05"))
                self._ledger_amounts(self._touch(c))
                recosted.append(c["ExpenditureItemId"])
            reversed_ = []
            for c in valid[r : r + 3]:
                reversal = dict(c)
                reversal.update({
                    "ExpenditureItemId": self._item_id(),
                    "ReversedExpenditureItemId": c["ExpenditureItemId"],
                    "Quantity": -c["Quantity"], "ProjectRawCost": -c["ProjectRawCost"],
                    "ProjectBurdenedCost": -c["ProjectBurdenedCost"],
                })  # fmt: skip
                self._ledger_amounts(self._touch(reversal))
                self.costs[reversal["ExpenditureItemId"]] = reversal
                reversed_.append(reversal["ExpenditureItemId"])
            added = []
            for k in range(10):
                project = self.projects[k % len(self.projects)]
                row = self._add_cost(project, None, "travel", date(2025, 12, 1 + k),
                                     Decimal(100 + k), project["ProjectCurrencyCode"], None,
                                     None)  # fmt: skip
                added.append(row["ExpenditureItemId"])
            first = self.projects[0]
            first["ProjectName"] = f"{first['ProjectName']} (round {r})"
            self._touch(first)
            second = self.projects[1 % len(self.projects)]
            self._rebaseline(second)
            return {"recosted": recosted, "reversals": reversed_, "added": added}

    def _rebaseline(self, project: Row) -> None:
        mine = [b for b in self.budgets.values()
                if b.version["ProjectId"] == project["ProjectId"]
                and b.version["FinancialPlanType"] == COST_PLAN]  # fmt: skip
        current = next(b for b in mine if b.version["PlanVersionStatus"] == "Current Baseline")
        current.version["PlanVersionStatus"] = "Baseline"
        self._touch(current.version)
        number = max(int(b.version["PlanVersionNumber"]) for b in mine) + 1
        totals = {
            "Expense" if "Financial" in str(r["ResourceClass"]) else "Labor":
                r["PlanningAmounts"][0]["BurdenedCostAmounts"]
            for r in current.resources
        }  # fmt: skip
        start = date.fromisoformat(project["ProjectStartDate"])
        finish = date.fromisoformat(project["ProjectEndDate"])
        self._add_budget(project, COST_PLAN, number, "Current Baseline", totals,
                         Decimal("1.10"), start, finish)  # fmt: skip

    # --- reads for tests ---------------------------------------------------------------------

    def valid_costs(self) -> Iterator[Row]:
        """The costs a connector loads: those with a project and numeric amounts."""
        for c in self.costs.values():
            if c["ProjectNumber"] and isinstance(c["ProjectBurdenedCost"], Decimal):
                yield c


def _months(start: date, finish: date) -> list[date]:
    first = date(start.year, start.month, 1)
    out: list[date] = []
    while first <= finish and len(out) < 24:
        out.append(first)
        first = _month_end(first) + timedelta(days=1)
    return out


def _month_end(first: date) -> date:
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)
