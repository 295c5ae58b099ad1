"""Runs of periods (issue 18): the findings of one subject and dimension in consecutive periods
are one finding, keyed by its first period, with the sums of its periods and `last_period` in
its measures ("in 2025-07..2025-09 (3 periods)"). A run that grows at its end keeps its key, so
its variance is updated (an acknowledgement stays).

Periods are numbered `year x regular periods + number` (a special period 13-16 counts as the
year's last regular one), so consecutive regular periods have consecutive numbers, across
years too, and a run is periods whose numbers follow on or repeat: a special period is in
period 12's place (the day the year ends), so 12, 13 and the next year's 01 are one run, and
so are 11 and 13, or 13 and the next 01, without a finding in 12. The rules rendered in SQL
merge with gaps and islands (`islands`: a period's number minus its `dense_rank` is the same
along a run); the rules that build `Finding`s in Python merge their rows with `merge`, which
numbers and joins periods the same way (tests/ledger/reconcile/test_runs.py tries both).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, Text, case, cast, func, select, type_coerce

from pmo_ledger.ledger.reconcile.context import RuleContext
from pmo_ledger.ledger.reconcile.rendered import cat, text_of
from pmo_ledger.ledger.time.calendar import fiscal_year_of, generate_year


def regular_periods(ctx: RuleContext) -> int:
    """Regular periods in a fiscal year of the run's calendar."""
    year = fiscal_year_of(ctx.settings.calendar, ctx.status_date)
    return sum(1 for p in generate_year(ctx.settings.calendar, year) if not p.special)


def period_index(ctx: RuleContext, period: Any) -> Any:
    """SQL: the number of a 'YYYY-PP' period (see the module's docstring)."""
    per_year = regular_periods(ctx)
    number = cast(func.substr(period, 6, 2), Integer())
    return cast(func.substr(period, 1, 4), Integer()) * per_year + case(
        (number > per_year, per_year), else_=number
    )


def islands(
    ctx: RuleContext, rows: Any, keys: Sequence[str], sums: Sequence[tuple[str, Any]]
) -> Select[Any]:
    """The rows of `rows` (a subquery with `keys`, `period` and the `sums` columns, one row
    per key and period) merged into runs of consecutive periods per key: (keys..., period
    (the first), last, n (periods), sums... (summed, typed as given))."""
    r = rows.c
    index = period_index(ctx, r.period)
    partition = [r[k] for k in keys]
    ranked = select(
        *partition,
        r.period,
        *(r[name] for name, _ in sums),
        (index - func.dense_rank().over(partition_by=partition, order_by=index)).label("island"),
    ).subquery("ranked")
    g = ranked.c
    return select(
        *(g[k] for k in keys),
        func.min(g.period).label("period"),
        func.max(g.period).label("last"),
        func.count().label("n"),
        *(type_coerce(func.sum(g[name]), kind).label(name) for name, kind in sums),
    ).group_by(*(g[k] for k in keys), g.island)


def periods_sql(first: Any, last: Any, n: Any) -> Any:
    """SQL: ' in 2025-07' or ' in 2025-07..2025-09 (3 periods)'."""
    more = cat("..", last, " (", cast(n, Text()), " periods)")
    return cat(" in ", first, case((n > 1, more), else_=text_of("")))


def periods_text(first: str, last: str, n: int) -> str:
    """' in 2025-07' or ' in 2025-07..2025-09 (3 periods)', as `periods_sql` writes it."""
    return f" in {first}" + (f"..{last} ({n} periods)" if n > 1 else "")


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive periods of one key: the first and last period, how many, and the sums of
    the rows' `actual` and `planned`."""

    key: Hashable
    period: str
    last: str
    n: int
    actual: Decimal
    planned: Decimal


def merge(ctx: RuleContext, rows: Iterable[Any], key: Callable[[Any], Hashable]) -> list[Run]:
    """Rows with `period`, `actual` and `planned` merged into runs of consecutive periods per
    `key(row)`, in (key, first period) order."""
    per_year = regular_periods(ctx)

    def number(period: str) -> int:
        return int(period[:4]) * per_year + min(int(period[5:7]), per_year)

    out: list[Run] = []
    current: dict[Hashable, tuple[int, int]] = {}  # key -> (its open run in `out`, number)
    for row in sorted(rows, key=lambda r: (str(key(r)), number(r.period), r.period)):
        k, at = key(row), number(row.period)
        actual, planned = Decimal(row.actual or 0), Decimal(row.planned or 0)
        open_run = current.get(k)
        # the next number, or the same one (period 12 and its special periods), as `islands`
        if open_run is not None and at - open_run[1] in (0, 1):
            run = out[open_run[0]]
            out[open_run[0]] = Run(
                k, run.period, row.period, run.n + 1, run.actual + actual, run.planned + planned
            )
            current[k] = (open_run[0], at)
        else:
            current[k] = (len(out), at)
            out.append(Run(k, row.period, row.period, 1, actual, planned))
    return out
