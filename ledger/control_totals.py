"""Control totals: a source's own figures per project and currency against the ledger's for
that source and stream, and the drift between them (`control_total`).

Measures: `count` (rows), `amount` (the sum of an actual stream's amounts), `hours` (the sum
of its hours, where the source states hours) and `budget` (on a budget stream: the project's
current budget). The ledger side of an actual stream is every live line of the source and
stream, counting or not (rule 8: verify compares with the source as it is, authority flags
aside), grouped by the source's own project key (`project_ref`), so a line loaded under
UNMAPPED still meets its source group. The ledger side of a budget stream is the live lines of
the source's live, not superseded `current` versions of that stream: a source's current
budget is the whole of what it approved (Salesforce: every pse__Budget__c in a counting
status), which is what its `current` version holds; the baseline is a part of it. Its count is
the source lines the version holds (a line the ledger phased over periods counts once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, distinct, func, insert, literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    ControlTotal,
    Project,
    ProjectLink,
    table_of,
)

_al = table_of(ActualLine)
_bl = table_of(BudgetLine)
_bv = table_of(BudgetVersion)
Key = tuple[str | None, str | None]  # (project_ref, currency)
#: What a stream's money figures are: an actual stream's amounts or a budget stream's budget.
MoneyMeasure = Literal["amount", "budget"]
ZERO = Decimal(0)
#: `ledger.write.budgets.phase_line` names a phased piece `<source line id>@<YYYY-PP>`.
_PHASED_SUFFIX = len("@YYYY-PP")


@dataclass(frozen=True, slots=True)
class Figures:
    """One side's figures of one group: rows, money (amount or budget), hours (None: the
    side does not state hours)."""

    count: int = 0
    money: Decimal = ZERO
    hours: Decimal | None = None

    def __add__(self, other: Figures) -> Figures:
        hours = (
            None
            if self.hours is None and other.hours is None
            else (self.hours or ZERO) + (other.hours or ZERO)
        )
        return Figures(self.count + other.count, self.money + other.money, hours)


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure of one group: its name and both sides' figures."""

    name: str  # count | amount | hours | budget
    source: Decimal
    ledger: Decimal

    @property
    def drift(self) -> Decimal:
        """Source minus ledger."""
        return self.source - self.ledger


@dataclass(frozen=True, slots=True)
class Drift:
    """One project and currency of one stream: the source's figures and the ledger's. The
    money figures are amounts, or the budget on a budget stream (`money_measure`); hours are
    None on both sides when they were not compared."""

    project_ref: str | None
    currency: str | None
    source_count: int
    source_amount: Decimal
    ledger_count: int
    ledger_amount: Decimal
    source_hours: Decimal | None = None
    ledger_hours: Decimal | None = None
    money_measure: MoneyMeasure = "amount"

    @property
    def count_drift(self) -> int:
        return self.source_count - self.ledger_count

    @property
    def amount_drift(self) -> Decimal:
        """Source minus ledger of the money measure (amount or budget)."""
        return self.source_amount - self.ledger_amount

    @property
    def hours_drift(self) -> Decimal | None:
        if self.source_hours is None or self.ledger_hours is None:
            return None
        return self.source_hours - self.ledger_hours

    @property
    def measures(self) -> list[Measure]:
        """Every measure compared, in the order count, amount or budget, hours."""
        out = [
            Measure("count", Decimal(self.source_count), Decimal(self.ledger_count)),
            Measure(self.money_measure, self.source_amount, self.ledger_amount),
        ]
        if self.source_hours is not None and self.ledger_hours is not None:
            out.append(Measure("hours", self.source_hours, self.ledger_hours))
        return out

    @property
    def drifted_measures(self) -> list[Measure]:
        return [m for m in self.measures if m.drift != 0]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_measures)


def _stated() -> ColumnElement[Any]:
    """The amount a line's source stated: NULL for a line whose hours the ledger valued at a
    cost rate (rule 9, `valuation_rate` set), whose amount the source never had."""
    return case((_al.c.valuation_rate.is_(None), _al.c.amount))


def _counted(count_zero: bool) -> ColumnElement[Any]:
    """1 for a line the count includes, else NULL. With `count_zero` False, a line at zero (no
    stated amount or hours: a reversal brought it there) is not counted, for a source whose
    control totals list no such line (SAP lists a zero line per totals record and begun
    period only where it reads); other sources count every live line, as they list them."""
    if count_zero:
        return literal(1)
    stated = func.coalesce(_stated(), 0)
    return case(((stated != 0) | (func.coalesce(_al.c.hours, 0) != 0), 1))


def ledger_totals(
    session: Session, source: str, stream: str, *, count_zero: bool = True
) -> dict[Key, Figures]:
    """Live lines of a source's actual stream per (project_ref, currency): count of the lines
    (without those at zero unless `count_zero`, see `_counted`), sum of amounts, sum of hours
    (None when no line has hours). Only the amounts the source stated are summed (`_stated`):
    a line whose hours the ledger valued at a cost rate adds its hours and count but not the
    amount the ledger computed, which the source never had (Workfront hours without
    `actualCost`)."""
    grouped = _grouped(session, source, stream, False, count_zero)
    return {(k[0], k[1]): v for k, v in grouped.items()}


def ledger_totals_by_period(
    session: Session, source: str, stream: str, *, count_zero: bool = True
) -> dict[tuple[str | None, str | None, str | None], Figures]:
    """`ledger_totals` per (project_ref, currency, period) as well."""
    return _grouped(session, source, stream, True, count_zero)


def _grouped(
    session: Session, source: str, stream: str, by_period: bool, count_zero: bool
) -> dict[tuple[str | None, str | None, str | None], Figures]:
    keys = [_al.c.project_ref, _al.c.currency]
    if by_period:
        keys.append(_al.c.period)
    sums = (func.count(_counted(count_zero)), func.sum(_stated()), func.sum(_al.c.hours))
    live = (_al.c.source == source, _al.c.stream == stream, _al.c.deleted_at.is_(None))
    out = {}
    for r in session.execute(select(*keys, *sums).where(*live).group_by(*keys)):
        n = len(keys)
        key = (r[0], r[1], r[2] if by_period else None)
        out[key] = Figures(int(r[n]), ZERO if r[n + 1] is None else r[n + 1], r[n + 2])
    return out


def _source_line(ext: ColumnElement[str], phasing: ColumnElement[str]) -> ColumnElement[str]:
    """The source line a budget line comes from: its own id, or a phased piece's id without
    the period suffix."""
    return case(
        (phasing == "source", ext),
        else_=func.substr(ext, 1, func.length(ext) - _PHASED_SUFFIX),
    )


def budget_totals(session: Session, source: str, stream: str) -> dict[Key, Figures]:
    """The source's current budgets in the ledger per (project_ref, currency): source lines,
    sum of amounts, sum of hours (None when no line has hours). Reads the live lines of the
    live, not superseded `current` versions of the source's stream, counting or not."""
    rows = session.execute(
        select(
            _bv.c.project_ref,
            _bl.c.currency,
            func.count(distinct(_source_line(_bl.c.external_id, _bl.c.phasing))),
            func.sum(_bl.c.amount),
            func.sum(_bl.c.hours),
        )
        .join(_bv, _bv.c.id == _bl.c.version_id)
        .where(
            _bv.c.source == source,
            _bv.c.stream == stream,
            _bv.c.kind == "current",
            _bv.c.deleted_at.is_(None),
            _bv.c.superseded_at.is_(None),
            _bl.c.deleted_at.is_(None),
        )
        .group_by(_bv.c.project_ref, _bl.c.currency)
    )
    return {
        (r[0], r[1]): Figures(int(r[2]), r[3] if r[3] is not None else ZERO, r[4]) for r in rows
    }


def compare(
    source: Iterable[tuple[Key, Figures]],
    ledger: dict[Key, Figures],
    money_measure: MoneyMeasure = "amount",
) -> list[Drift]:
    """Every group either side has, with both sides' figures (0 where a side lacks a group).
    Hours are compared when the source states them for some group (a group it lacks then has
    0 hours there); a ledger group without hours has 0."""
    seen: dict[Key, Figures] = {}
    for key, figures in source:
        seen[key] = seen.get(key, Figures()) + figures
    with_hours = any(f.hours is not None for f in seen.values())
    keys = sorted(set(seen) | set(ledger), key=lambda k: (k[0] or "", k[1] or ""))
    out = []
    for k in keys:
        s, led = seen.get(k, Figures()), ledger.get(k, Figures())
        out.append(
            Drift(
                k[0],
                k[1],
                s.count,
                s.money,
                led.count,
                led.money,
                (s.hours or ZERO) if with_hours else None,
                (led.hours or ZERO) if with_hours else None,
                money_measure,
            )
        )
    return out


def _project_ids(session: Session, source: str, refs: set[str]) -> dict[str, int]:
    if not refs:
        return {}
    rows = session.execute(
        select(ProjectLink.external_id, ProjectLink.project_id).where(
            ProjectLink.source == source,
            ProjectLink.object_type == "project",
            ProjectLink.external_id.in_(refs),
        )
    ).tuples()
    return dict(rows.all())


def project_codes(session: Session, source: str, refs: set[str | None]) -> dict[str, str]:
    """Ledger project codes of a source's project keys (those that are linked)."""
    ids = _project_ids(session, source, {r for r in refs if r})
    if not ids:
        return {}
    codes = dict(
        session.execute(select(Project.id, Project.code).where(Project.id.in_(set(ids.values()))))
        .tuples()
        .all()
    )
    return {ref: codes[pid] for ref, pid in ids.items() if pid in codes}


def record(
    session: Session,
    source: str,
    stream: str,
    drifts: list[Drift],
    checked_at: datetime,
    run_id: int | None = None,
) -> None:
    """Store one check's figures in `control_total` (the caller commits): a budget stream's
    money in the budget columns, an actual stream's in the amount columns; a measure not
    compared is NULL on both sides."""
    projects = _project_ids(session, source, {d.project_ref for d in drifts if d.project_ref})
    rows = []
    for d in drifts:
        budget = d.money_measure == "budget"
        rows.append(
            {
                "run_id": run_id,
                "source": source,
                "stream": stream,
                "project_id": projects.get(d.project_ref) if d.project_ref else None,
                "project_ref": d.project_ref,
                "currency": d.currency,
                "source_count": d.source_count,
                "ledger_count": d.ledger_count,
                "source_amount": None if budget else d.source_amount,
                "ledger_amount": None if budget else d.ledger_amount,
                "source_budget": d.source_amount if budget else None,
                "ledger_budget": d.ledger_amount if budget else None,
                "source_hours": d.source_hours,
                "ledger_hours": d.ledger_hours,
                "checked_at": checked_at,
            }
        )
    if rows:
        session.execute(insert(table_of(ControlTotal)), rows)
