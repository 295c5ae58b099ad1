"""Budgets of SAP PS: the budget on WBS elements (BPGE, value type 41) as each project's
`current` version, and the cost plan (COSP/COSS value type 01, version 000) as its `plan`.

A parent WBS element's budget includes what it distributed to its children (BPGE holds both),
so an element's line is its own share: its budget minus its children's (PRHI). The lines of a
project then add up to the budget of its top elements, never to the sum of every element.
Budget activities (VORGA) counted: `budget_activities` (default original KBUD, supplement
KBN0, return KBR0, and a transfer's two sides: KBUS on the sender, negative, KBUE on the
receiver). The release KBFR is not read: released budget is a share of the same budget that
may be spent, not more money, and no version carries it.
Both versions are `derived` from a full re-read, stamped with the read's time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pmo_ledger.connectors.base import SourceTotal
from pmo_ledger.connectors.sap.normalize import Row, TotalLine
from pmo_ledger.connectors.sap.values import sap_amount, sap_date
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord

_ZERO = Decimal("0.0000")
#: A version's date when the project states no start.
DEFAULT_FROM = date(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class Element:
    """A WBS element as the budgets need it."""

    posid: str
    pspid: str
    parent_objnr: str | None


def elements(
    projects: Sequence[Row], wbs: Sequence[Row], hierarchy: Sequence[Row]
) -> dict[str, Element]:
    """WBS elements by OBJNR with their project's PSPID and their parent's OBJNR."""
    pspid = {p["PSPNR"]: p["PSPID"] for p in projects}
    objnr = {w["PSPNR"]: w["OBJNR"] for w in wbs}
    up = {h["POSNR"]: h.get("UP", "") for h in hierarchy}
    return {
        w["OBJNR"]: Element(
            w["POSID"], pspid.get(w["PSPHI"], ""), objnr.get(up.get(w["PSPNR"], ""))
        )
        for w in wbs
        if w.get("OBJNR")
    }


def own_budgets(
    rows: Iterable[Row],
    by_objnr: Mapping[str, Element],
    activities: Sequence[str],
    shift: Callable[[str], Decimal] = lambda _ccy: Decimal(1),
) -> dict[tuple[str, str], Decimal]:
    """Each element's own budget per (OBJNR, currency): BPGE's WTGES (object currency TWAER,
    times its TCURX `shift`) over the counted activities, less what its children hold.
    Raises ValueError."""
    budget: dict[tuple[str, str], Decimal] = defaultdict(lambda: _ZERO)
    for row in rows:
        if activities and row.get("VORGA", "") not in activities:
            continue
        ccy = row.get("TWAER", "")
        budget[(row["OBJNR"], ccy)] += sap_amount(row.get("WTGES"), "WTGES") * shift(ccy)
    own = dict(budget)
    for (objnr, ccy), amount in budget.items():
        element = by_objnr.get(objnr)
        parent = element.parent_objnr if element else None
        if parent and (parent, ccy) in own:
            own[(parent, ccy)] -= amount
    return own


def budget_versions(
    own: Mapping[tuple[str, str], Decimal],
    by_objnr: Mapping[str, Element],
    projects: Sequence[Row],
    read_at: datetime,
) -> list[BudgetRecord]:
    """One `current` version per project: a line per element and currency (phased by the
    ledger over the project's planned dates)."""
    lines: dict[str, list[BudgetLineRecord]] = defaultdict(list)
    for (objnr, ccy), amount in sorted(own.items()):
        element = by_objnr.get(objnr)
        if element is None or not element.pspid:
            continue
        lines[element.pspid].append(
            BudgetLineRecord(
                external_id=f"{objnr}/{ccy}", amount=amount, currency=ccy, task_ref=element.posid
            )
        )
    return [
        _version(pspid, "current", tuple(lines[pspid]), projects, read_at, "budget (BPGE)")
        for pspid in sorted(lines)
    ]


def plan_versions(
    totals: Iterable[tuple[TotalLine, str]],
    by_objnr: Mapping[str, Element],
    currency: str,
    projects: Sequence[Row],
    read_at: datetime,
) -> list[BudgetRecord]:
    """One `plan` version per project from the cost plan: a line per (element, cost element,
    period) that is not zero, in its ledger period (`totals`: lines with their period key)."""
    lines: dict[str, list[BudgetLineRecord]] = defaultdict(list)
    for line, period in sorted(totals, key=lambda t: t[0].external_id):
        element = by_objnr.get(line.objnr)
        if element is None or not element.pspid or line.amount == 0:
            continue
        lines[element.pspid].append(
            BudgetLineRecord(
                external_id=line.external_id,
                amount=line.amount,
                currency=currency,
                period=period,
                task_ref=element.posid,
                cost_type=f"KSTAR {line.kstar.lstrip('0') or line.kstar}",
                hours=line.hours,
            )
        )
    return [
        _version(pspid, "plan", tuple(lines[pspid]), projects, read_at, "cost plan version 000")
        for pspid in sorted(lines)
    ]


def _version(
    pspid: str,
    kind: Literal["current", "plan"],
    lines: tuple[BudgetLineRecord, ...],
    projects: Sequence[Row],
    read_at: datetime,
    label: str,
) -> BudgetRecord:
    project = next((p for p in projects if p["PSPID"] == pspid), {})
    start = sap_date(project.get("PLFAZ"), "PLFAZ")
    return BudgetRecord(
        external_id=f"{pspid}/{kind}",
        project_ref=pspid,
        kind=kind,
        effective_from=start or DEFAULT_FROM,
        lines=lines,
        label=label,
        planned_start=start,
        planned_finish=sap_date(project.get("PLSEZ"), "PLSEZ"),
        source_modified_at=read_at,
        derived=True,
    )


def budget_totals(items: Iterator[object]) -> list[SourceTotal]:
    """Per project and currency: the `current` versions' lines and their sum."""
    groups: dict[tuple[str, str], list[BudgetLineRecord]] = defaultdict(list)
    for item in items:
        if isinstance(item, BudgetRecord) and item.kind == "current":
            for line in item.lines:
                groups[(item.project_ref, line.currency)].append(line)
    return [
        SourceTotal(ref, ccy, len(lines), sum((x.amount for x in lines), _ZERO))
        for (ref, ccy), lines in sorted(groups.items())
    ]
