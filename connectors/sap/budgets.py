"""Budgets of SAP PS: the budget on WBS elements (BPGE overall, BPJA by fiscal year; value type
41) as each project's `current` version, its release as the `released` version, and the cost
plan (COSP/COSS value type 01, version 000) as its `plan`.

A parent WBS element's budget includes what it distributed to its children (BPGE holds both),
so an element's line is its own share: its budget minus its children's (PRHI). The lines of a
project then add up to the budget of its top elements, never to the sum of every element.
Budget activities (VORGA) counted: `budget_activities` (default original KBUD, supplement
KBN0, return KBR0, and a transfer's two sides: KBUS on the sender, negative, KBUE on the
receiver). The release (`release_activities`, default KBFR) is a share of the same budget that
may be spent now, not more money: it is never added to the budget but makes its own
`released` version, by the same parent/child rule, which SAP's availability control (and the
ledger's `released_overrun` rule) checks actual cost against. Where BPJA holds annual values,
an element's lines are one per fiscal year (`period` = the year: the ledger phases it inside
that year) and the rest of its overall value, if any, one line phased over the project.
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
from pmo_ledger.connectors.sap.cost_types import CostTypes
from pmo_ledger.connectors.sap.normalize import PLAIN, Row, TotalLine
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


def _own(
    amounts: Mapping[tuple[str, str, str], Decimal],
    by_objnr: Mapping[str, Element],
    ledger: Mapping[tuple[str, str, str], Decimal | None],
) -> dict[tuple[str, str, str], Decimal]:
    """Each element's own share per (OBJNR, currency, year): its amount less what its
    children hold of the same key (PRHI). A child kept in another currency than its parent is
    subtracted through the ledger currency (`ledger`: WLGES/WLJHR per key, None where a row
    lacks it): its ledger value at the parent's own rate (the parent's amount over its ledger
    value), rounded to the parent's decimals."""
    own = dict(amounts)
    for (objnr, ccy, year), amount in amounts.items():
        element = by_objnr.get(objnr)
        parent = element.parent_objnr if element else None
        if not parent:
            continue
        if (parent, ccy, year) in own:
            own[(parent, ccy, year)] -= amount
            continue
        given = ledger.get((objnr, ccy, year))
        for key in sorted(k for k in amounts if k[0] == parent and k[2] == year):
            held = ledger.get(key)
            if given is not None and held:
                own[key] -= (given * amounts[key] / held).quantize(amounts[key])
                break
    return own


def own_budgets(
    rows: Iterable[Row],
    by_objnr: Mapping[str, Element],
    activities: Sequence[str],
    shift: Callable[[str], Decimal] = lambda _ccy: Decimal(1),
    *,
    annual: Iterable[Row] = (),
    value_type: str | None = None,
    exclude: Sequence[str] = ("KBFR",),
    first_year: int | None = None,
) -> dict[tuple[str, str, str], Decimal]:
    """Each element's own budget per (OBJNR, currency, fiscal year): BPGE's (`rows`) and
    BPJA's (`annual`) values (WTGES; object currency TWAER, times its TCURX `shift`) of the
    counted activities (`activities`; [] counts every activity but those in `exclude`, the
    release) and `value_type`, when rows carry WRTTP, each less what the element's children
    hold (across currencies through WLGES, the ledger currency). A year's key is BPJA's own
    share (years before `first_year` are left out); the key with year "" is the rest of the
    overall value less every year, kept when not zero or when BPJA has no year for the
    element, so an element's lines add up to its own overall share. Raises ValueError."""

    def counted(row: Row) -> bool:
        vorga = row.get("VORGA", "")
        if (vorga not in activities) if activities else (vorga in exclude):
            return False
        return value_type is None or row.get("WRTTP", value_type) == value_type

    def value(row: Row) -> Decimal:
        ccy = row.get("TWAER", "")
        return sap_amount(row.get("WTGES"), "WTGES") * shift(ccy)

    def add(
        into: dict[tuple[str, str, str], Decimal],
        ledger: dict[tuple[str, str, str], Decimal | None],
        row: Row,
        year: str,
    ) -> None:
        key = (row["OBJNR"], row.get("TWAER", ""), year)
        into[key] += value(row)
        raw = row.get("WLGES")  # no shift: only its ratio to WTGES is used
        held = sap_amount(raw, "WLGES") if raw not in (None, "") else None
        before = ledger.get(key, _ZERO)
        ledger[key] = None if held is None or before is None else before + held

    overall: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: _ZERO)
    yearly: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: _ZERO)
    ledger: dict[tuple[str, str, str], Decimal | None] = {}
    for row in rows:
        if counted(row):
            add(overall, ledger, row, "")
    for row in annual:
        if counted(row):
            add(yearly, ledger, row, str(row.get("GJAHR", "")).strip())
    own_years = _own(yearly, by_objnr, ledger)
    out = {
        (o, c, y): v
        for (o, c, y), v in own_years.items()
        if first_year is None or not y.isdigit() or int(y) >= first_year
    }
    for (objnr, ccy, _), amount in _own(overall, by_objnr, ledger).items():
        years = [v for (o, c, _y), v in own_years.items() if (o, c) == (objnr, ccy)]
        rest = amount - sum(years, _ZERO)
        if rest != 0 or not years:
            out[(objnr, ccy, "")] = rest
    return out


def budget_versions(
    own: Mapping[tuple[str, str, str], Decimal],
    by_objnr: Mapping[str, Element],
    projects: Sequence[Row],
    read_at: datetime,
    kind: Literal["current", "released"] = "current",
) -> list[BudgetRecord]:
    """One version per project: a line per element, currency and fiscal year (the year's
    line phased by the ledger inside that year; the overall rest over the project's dates).
    `kind`: `current` (the budget) or `released` (the release)."""
    lines: dict[str, list[BudgetLineRecord]] = defaultdict(list)
    for (objnr, ccy, year), amount in sorted(own.items()):
        element = by_objnr.get(objnr)
        if element is None or not element.pspid:
            continue
        lines[element.pspid].append(
            BudgetLineRecord(
                external_id=f"{objnr}/{ccy}/{year}" if year else f"{objnr}/{ccy}",
                amount=amount,
                currency=ccy,
                period=year or None,
                task_ref=element.posid,
            )
        )
    label = "budget (BPGE/BPJA)" if kind == "current" else "released budget (BPGE/BPJA)"
    return [
        _version(pspid, kind, tuple(lines[pspid]), projects, read_at, label)
        for pspid in sorted(lines)
    ]


def plan_versions(
    totals: Iterable[tuple[TotalLine, str]],
    by_objnr: Mapping[str, Element],
    currency: str,
    projects: Sequence[Row],
    read_at: datetime,
    cost_types: CostTypes = PLAIN,
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
                cost_type=cost_types.of(line.kstar),
                hours=line.hours,
            )
        )
    return [
        _version(pspid, "plan", tuple(lines[pspid]), projects, read_at, "cost plan version 000")
        for pspid in sorted(lines)
    ]


def _version(
    pspid: str,
    kind: Literal["current", "plan", "released"],
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
