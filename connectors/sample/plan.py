"""What the sample's projects plan: a world that keeps to its plan unless a problem is planted.

The plan is read off the lines the world books in round 0 (`ActualLines`, the orphans aside):
per project, the hours of each team member and the cost of each expense type per calendar
month. Allocations plan those hours and budgets that cost, both with `HEADROOM` on top; a month
of the project after the generated ones (no lines yet) plans the project's average month so
far. So, by default, no project spends above its budget, no resource books more hours than
planned, and earned value stays on budget (its progress, 85-104% of the planned pace, against
cost at most 1/1.2 of the budget to date). Computed once per connector, on the first
allocation or budget record: a pass over the actuals (about 4 s per million lines), held as
O(projects x months) sums.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from pmo_ledger.connectors.sample.actuals import ActualLines
from pmo_ledger.connectors.sample.world import ProjectSpec, World, convert_cents

#: Percent of what a project books that it plans (hours) and budgets (cost).
HEADROOM = 120
Month = date  # the first day of a calendar month


class Plan:
    """Booked hours and cost of a world's round-0 lines, and the plan made from them."""

    def __init__(self, world: World) -> None:
        self.w = world
        lines = ActualLines(world)
        team = [{world.resources[r].key: m for m, r in enumerate(p.team)} for p in world.projects]
        #: per project: (member, month) -> hundredths of hours; (cost type, month) -> cents
        #: in the project's currency (expense lines only: labor is planned in hours).
        self.hours: list[dict[tuple[int, Month], int]] = [defaultdict(int) for _ in team]
        self.cost: list[dict[tuple[str, Month], int]] = [defaultdict(int) for _ in team]
        projects = world.projects
        months: dict[date, Month] = {}  # posting day -> its month, made once per day
        for i in range(world.settings.actuals):
            line = lines.line(i, 0, 0, 0, world.e0)
            if line.project_ref is None or line.amount is None or line.currency is None:
                continue  # never: every sample line has them (typed optional for other sources)
            p = world.project_index[line.project_ref]
            day = line.posted_on
            month = months.get(day)
            if month is None:
                month = months[day] = date(day.year, day.month, 1)
            if line.resource_ref is not None and line.hours is not None:
                member = team[p][line.resource_ref]
                self.hours[p][(member, month)] += int(line.hours.scaleb(2))
            else:
                cents = int(line.amount.scaleb(2))
                self.cost[p][(line.cost_type, month)] += convert_cents(
                    cents, line.currency, projects[p].currency
                )

    def _booked_months(self, p: ProjectSpec) -> list[Month]:
        """The project's months among the generated ones (those its lines are posted in)."""
        return [m for m in self.w.months_between(p.start, p.finish) if m < self.w.window_end]

    def _booked_or_average(
        self, booked: dict[tuple[Any, Month], int], key: Any, p: ProjectSpec, month: Month
    ) -> int:
        """What was booked under (key, month); after the generated months, the average of
        the project's months before (rounded up)."""
        if month < self.w.window_end:
            return booked.get((key, month), 0)
        past = self._booked_months(p)
        total = sum(booked.get((key, m), 0) for m in past)
        return -(-total // max(1, len(past)))

    def hours_of(self, p: ProjectSpec, member: int, month: Month) -> int:
        """Planned hundredths of an hour of a team member in a month: what it books plus the
        headroom, in whole hours (rounded up)."""
        booked = self._booked_or_average(self.hours[p.index], member, p, month)
        return -(-booked * HEADROOM // 10_000) * 100

    def cost_of(self, p: ProjectSpec, cost_type: str, month: Month) -> int:
        """Budgeted cents (project currency) of an expense type in a month: what is spent
        plus the headroom."""
        spent = self._booked_or_average(self.cost[p.index], cost_type, p, month)
        return spent * HEADROOM // 100
