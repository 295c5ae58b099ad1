"""The sample's structure streams: projects, tasks, dependencies, resources and their rates,
allocations, budgets, FX rates and progress.

Each is a `Table`: a size and `make(i, modstamp)`, the i-th record (a pure function of the
world and i), plus, for streams a project re-sync may ask for, `project_of(i)`. These streams
do not change between rounds: their record i was last modified at `e0 + i seconds`.

Allocations and budgets follow the plan (`connectors.sample.plan`): what the lines book, with
headroom, per month; `underplanned_every` and `planted` change it on purpose.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import accumulate

from pmo_ledger.connectors.sample.plan import HEADROOM, Plan
from pmo_ledger.connectors.sample.world import (
    PROGRAMS,
    USD_VALUE,
    ProjectSpec,
    World,
    add_months,
)
from pmo_ledger.ledger.records import (
    AllocationRecord,
    BudgetLineRecord,
    BudgetRecord,
    CapacityRecord,
    DependencyRecord,
    FxRateRecord,
    ProgressRecord,
    ProjectRecord,
    Record,
    ResourceRateRecord,
    ResourceRecord,
    TaskRecord,
)

URL = "https://sample.invalid"
#: The WBS every project follows: phases, each a summary task over two leaves.
PHASES = (
    ("Initiation", ("Business case", "Project charter")),
    ("Design", ("Requirements", "Solution design")),
    ("Build", ("Development", "Integration")),
    ("Test & Deploy", ("Testing", "Go-live")),
)
TASKS_PER_PROJECT = 3 * len(PHASES)
#: Leaf-to-leaf links (predecessor leaf, successor leaf, type); leaves are numbered 0..7.
LINKS = ((0, 1, "FS"), (1, 2, "FS"), (2, 3, "FS"), (3, 4, "FS"), (4, 5, "SS"), (5, 6, "FS"),
         (6, 7, "FS"))  # fmt: skip
#: The expense types budgeted per month beside labor (the actuals' expense lines).
BUDGET_EXTRAS = ("travel", "software", "subcontract")


def money(cents: int) -> Decimal:
    """Minor units as a Decimal with two places."""
    return Decimal(cents).scaleb(-2)


@dataclass(frozen=True, slots=True)
class Table:
    """A stream of `size` records; `make(i, modstamp)` is record i."""

    size: int
    make: Callable[[int, datetime], Record]
    project_of: Callable[[int], str] | None = None


class Groups:
    """Flat indexes over groups of different sizes: i -> (group, offset in group)."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.starts = [0, *accumulate(sizes)]
        self.size = self.starts[-1]

    def locate(self, i: int) -> tuple[int, int]:
        g = bisect_right(self.starts, i) - 1
        return g, i - self.starts[g]


def working_days(start: date, finish: date) -> int:
    """Monday-to-Friday days in [start, finish]."""
    return sum(1 for n in range((finish - start).days + 1) if (start + timedelta(n)).weekday() < 5)


class Structure:
    """Builds the structure streams of a world."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.alloc = Groups([len(self._alloc_months(p)) * len(p.team) for p in world.projects])
        self.progress = Groups([len(self._progress_months(p)) for p in world.projects])

    def tables(self) -> dict[str, Table]:
        w = self.w
        n_tasks = len(w.projects) * TASKS_PER_PROJECT
        n_deps = len(w.projects) * len(LINKS)
        n_fx = (len(w.settings.currencies) - 1) * len(w.month_starts)
        return {
            "projects": Table(len(w.projects), self.project),
            "tasks": Table(n_tasks, self.task),
            "dependencies": Table(n_deps, self.dependency),
            "resources": Table(len(w.resources), self.resource),
            "resource_rates": Table(2 * len(w.resources), self.resource_rate),
            "allocations": Table(self.alloc.size, self.allocation, self._alloc_project),
            "budgets": Table(2 * len(w.projects), self.budget, self._budget_project),
            "fx_rates": Table(n_fx, self.fx_rate),
            "progress": Table(self.progress.size, self.progress_point),
            "capacity": Table(len(w.resources) * len(w.month_starts), self.capacity),
        }

    # --- projects and their WBS ------------------------------------------------------------

    def project(self, i: int, at: datetime) -> ProjectRecord:
        w, p = self.w, self.w.projects[i]
        prog = p.program
        name = PROGRAMS[prog % len(PROGRAMS)]
        pct = w.percent_at(p, p.start, p.finish, w.status_date)
        return ProjectRecord(
            external_id=p.key,
            code=p.key,
            name=p.name,
            portfolio=w.portfolio_code,
            portfolio_name=w.settings.portfolio,
            program=f"PGM-{prog + 1:02d}",
            program_name=name if prog < len(PROGRAMS) else f"{name} {prog // len(PROGRAMS) + 1}",
            status=p.status,
            currency=p.currency,
            manager=w.resources[p.team[0]].name,
            planned_start=p.start,
            planned_finish=p.finish,
            actual_start=p.start if p.start <= w.status_date else None,
            actual_finish=p.finish if pct == 10_000 else None,
            percent_complete=money(pct),
            status_date=w.status_date,
            source_url=f"{URL}/projects/{p.key}",
            source_modified_at=at,
        )

    @staticmethod
    def task_key(p: ProjectSpec, slot: int) -> str:
        return f"{p.key}.T{slot + 1:02d}"

    @staticmethod
    def leaf_slot(leaf: int) -> int:
        """Task slot of leaf 0..7."""
        return 3 * (leaf // 2) + 1 + leaf % 2

    def _leaf_effort(self, p: ProjectSpec, slot: int) -> int:
        """Planned effort of a leaf, hundredths of an hour: working days x 8 h x 1..3 people."""
        start, finish = self.w.task_window(p, slot)
        people = 1 + self.w.h(0x54, p.index * 64 + slot) % 3
        return working_days(start, finish) * 800 * people

    def task(self, i: int, at: datetime) -> TaskRecord:
        w = self.w
        proj, slot = divmod(i, TASKS_PER_PROJECT)
        p = w.projects[proj]
        phase, pos = divmod(slot, 3)
        start, finish = self.w.task_window(p, slot)
        if pos == 0:
            effort = self._leaf_effort(p, slot + 1) + self._leaf_effort(p, slot + 2)
        else:
            effort = self._leaf_effort(p, slot)
        likely = working_days(start, finish) * 100  # working days, as schedulers count
        h = w.h(0x55, i)
        pct = w.percent_at(p, start, finish, w.status_date)
        title, leaves = PHASES[phase]
        return TaskRecord(
            external_id=self.task_key(p, slot),
            project_ref=p.key,
            name=title if pos == 0 else leaves[pos - 1],
            parent_ref=None if pos == 0 else self.task_key(p, 3 * phase),
            wbs_code=f"{phase + 1}" if pos == 0 else f"{phase + 1}.{pos}",
            planned_start=start,
            planned_finish=finish,
            actual_start=start if start <= w.status_date else None,
            actual_finish=finish if pct == 10_000 else None,
            effort_hours=money(effort),
            percent_complete=money(pct),
            status_date=w.status_date,
            optimistic_days=money(likely * (70 + h % 21) // 100),
            most_likely_days=money(likely),
            pessimistic_days=money(likely * (120 + (h >> 8) % 61) // 100),
            source_url=f"{URL}/tasks/{self.task_key(p, slot)}",
            source_modified_at=at,
        )

    def dependency(self, i: int, at: datetime) -> DependencyRecord:
        proj, n = divmod(i, len(LINKS))
        p = self.w.projects[proj]
        before, after, kind = LINKS[n]
        pred, succ = self.leaf_slot(before), self.leaf_slot(after)
        first, then = self.w.task_window(p, pred)[0], self.w.task_window(p, succ)[0]
        lag = working_days(first, then - timedelta(days=1)) if kind == "SS" else 0
        return DependencyRecord(
            external_id=f"{p.key}.D{n + 1:02d}",
            predecessor_ref=self.task_key(p, pred),
            successor_ref=self.task_key(p, succ),
            dependency_type="SS" if kind == "SS" else "FS",
            lag_days=Decimal(lag).quantize(Decimal("0.01")),
            source_modified_at=at,
        )

    # --- resources -------------------------------------------------------------------------

    def resource(self, i: int, at: datetime) -> ResourceRecord:
        r = self.w.resources[i]
        return ResourceRecord(
            external_id=r.key,
            name=r.name,
            email=r.email,
            role=r.role,
            department=r.department,
            active=r.active,
            source_modified_at=at,
        )

    def resource_rate(self, i: int, at: datetime) -> ResourceRateRecord:
        r = self.w.resources[i // 2]
        raised = i % 2 == 1
        day = r.raise_on if raised else self.w.window_start
        return ResourceRateRecord(
            external_id=f"{r.key}/{day.isoformat()}",
            effective_from=day,
            cost_rate=money(r.raise_cents if raised else r.rate_cents),
            currency=r.currency,
            resource_ref=r.key,
            source_modified_at=at,
        )

    # --- allocations and budgets -----------------------------------------------------------

    def _alloc_months(self, p: ProjectSpec) -> list[date]:
        return self.w.months_between(p.start, p.finish)

    @cached_property
    def plan(self) -> Plan:
        """The world's plan, made on first use (a pass over the actuals)."""
        return Plan(self.w)

    def _planned_hours(self, p: ProjectSpec, member: int, month: date) -> int:
        """Planned hundredths of an hour of a member in a month of the project: the plan (a
        tenth of it on the projects `underplanned_every` picks: their actuals overrun it)."""
        planned = self.plan.hours_of(p, member, month)
        k = self.w.settings.underplanned_every
        return planned // 10 if k and p.index % k == k - 1 else planned

    def _alloc_project(self, i: int) -> str:
        return self.w.projects[self.alloc.locate(i)[0]].key

    def allocation(self, i: int, at: datetime) -> AllocationRecord:
        proj, k = self.alloc.locate(i)
        p = self.w.projects[proj]
        months = self._alloc_months(p)
        member, m = divmod(k, len(months))
        r = self.w.resources[p.team[member]]
        planned = self._planned_hours(p, member, months[m])
        if r.key == self.w.settings.planted.overbooked:
            planned //= 3  # planted: it books three times what it is planned for
        return AllocationRecord(
            external_id=f"{p.key}/{r.key}",
            project_ref=p.key,
            period=f"{months[m].year:04d}-{months[m].month:02d}",
            planned_hours=money(planned),
            resource_ref=r.key,
            source_modified_at=at,
        )

    def _budget_project(self, i: int) -> str:
        return self.w.projects[i // 2].key

    def _labor_plan(self, p: ProjectSpec) -> list[tuple[date, int, int]]:
        """(month, cents in the project's currency, hundredths of hours) of planned labor."""
        out = []
        for month in self._alloc_months(p):
            cents = hours = 0
            for member, r_index in enumerate(p.team):
                r = self.w.resources[r_index]
                h = self._planned_hours(p, member, month)
                rate = r.raise_cents if month >= r.raise_on else r.rate_cents
                cost = h * USD_VALUE[r.currency] * rate // (100 * USD_VALUE[p.currency])
                cents, hours = cents + cost, hours + h
            out.append((month, cents, hours))
        return out

    def budget(self, i: int, at: datetime) -> BudgetRecord:
        w = self.w
        p = w.projects[i // 2]
        current = i % 2 == 1
        h = w.h(0x42, i // 2)
        factor = 100 + (5 + h % 16 if current else 0)  # the current version is 5-20% higher
        key = f"{p.key}/{'CUR' if current else 'BL'}"
        short = w.settings.planted.short_budget if current else None

        def line(cost_type: str, m: date, cents: int, hours: int | None = None) -> BudgetLineRecord:
            period = f"{m.year:04d}-{m.month:02d}"
            part, whole = factor, 100
            if short is not None and short.covers(p.key, cost_type, m):
                # planted: the current budget covers only `pct` of what is spent (the plan is
                # the spend with headroom)
                part, whole = short.pct, HEADROOM
            return BudgetLineRecord(
                external_id=f"{key}/{cost_type}/{period}",
                amount=money(cents * part // whole),
                currency=p.currency,
                cost_type=cost_type,
                period=period,
                hours=None if hours is None else money(hours * part // whole),
            )

        lines = [line("labor", m, cents, hours) for m, cents, hours in self._labor_plan(p)]
        lines += [
            line(cost_type, m, self.plan.cost_of(p, cost_type, m))
            for cost_type in BUDGET_EXTRAS
            for m in self._alloc_months(p)
            if self.plan.cost_of(p, cost_type, m)
        ]
        third = p.start + timedelta((p.finish - p.start).days // 3)
        return BudgetRecord(
            external_id=key,
            project_ref=p.key,
            kind="current" if current else "baseline",
            effective_from=min(third, w.status_date) if current else p.start - timedelta(14),
            lines=tuple(lines),
            number=2 if current else 1,
            label="Current" if current else "Baseline",
            status="Approved",
            planned_start=p.start,
            planned_finish=p.finish,
            source_modified_at=at,
        )

    # --- FX and progress ---------------------------------------------------------------

    def fx_rate(self, i: int, at: datetime) -> FxRateRecord:
        w = self.w
        base = w.settings.base_currency
        others = [c for c in w.settings.currencies if c != base]
        month, k = divmod(i, len(others))
        ccy = others[k]
        # The cross rate, drifting up to +/-1.5% over the year plus +/-1% a month.
        h = w.h(0x46, k)
        drift = ((h % 3001) - 1500) * month // max(1, len(w.month_starts) - 1)
        wobble = (w.h(0x47, i) % 2001) - 1000
        micro = USD_VALUE[ccy] * 1_000_000 // USD_VALUE[base]
        micro = micro * (100_000 + drift + wobble) // 100_000
        return FxRateRecord(
            from_ccy=ccy,
            to_ccy=base,
            valid_from=w.month_starts[month],
            rate=Decimal(micro).scaleb(-6),
            rate_type="corporate",
            source_modified_at=at,
        )

    def _progress_months(self, p: ProjectSpec) -> list[date]:
        """Month ends of the generated months from the project's start on."""
        ends = [add_months(m, 1) - timedelta(days=1) for m in self.w.month_starts]
        return [d for d in ends if d >= p.start]

    def capacity(self, i: int, at: datetime) -> CapacityRecord:
        """Resource i // months' hours in month i % months: working days x hours per day."""
        months = self.w.month_starts
        r, m = divmod(i, len(months))
        first = months[m]
        last = add_months(first, 1) - timedelta(days=1)
        per_day = self.w.settings.capacity_hours_per_day
        return CapacityRecord(
            resource_ref=self.w.resources[r].key,
            period=f"{first.year:04d}-{first.month:02d}",
            hours=Decimal(working_days(first, last) * per_day),
            source_modified_at=at,
        )

    def progress_point(self, i: int, at: datetime) -> ProgressRecord:
        proj, k = self.progress.locate(i)
        p = self.w.projects[proj]
        day = self._progress_months(p)[k]
        return ProgressRecord(
            project_ref=p.key,
            status_date=day,
            percent=money(self.w.percent_at(p, p.start, p.finish, day)),
            source_modified_at=at,
        )
