"""SAP rows -> ledger records: pure functions over the row dicts RFC_READ_TABLE and OData give.

- PROJ -> ProjectRecord (external id and code: PSPID; currency: PWHIE, PROJ has no WAERS);
- PRPS with PRHI -> TaskRecord (external id: POSID; parent from PRHI.UP);
- COSP/COSS totals -> ActualRecord per (OBJNR, KSTAR, GJAHR, period, WRTTP), external id
  `<OBJNR>/<KSTAR>/<GJAHR>/<PERIOD>/<WRTTP>` (PERIOD as SAP's three digits), the value
  `WKGppp` (controlling-area currency) summed over the record's other keys (BEKNZ, HRKFT,
  VRGNG, partner ...), so a reversal nets the line, never a second one;
- a CO object (OBJNR) -> the key a ledger project is found by: a WBS element (`PR` + PSPNR)
  by its POSID, a cost center (`KS` + KOKRS + KOSTL) by KOSTL, an order (`OR` + AUFNR).

Every function raises ValueError naming the field for a row it cannot read; the reader turns
that into a Rejected row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pmo_ledger.connectors.sap.cost_types import CostTypes
from pmo_ledger.connectors.sap.values import inverted_date, sap_amount, sap_date, tcurr_rate
from pmo_ledger.ledger.records import ActualRecord, FxRateRecord, ProjectRecord, TaskRecord

Row = Mapping[str, str]
#: Units of measure that are hours (MEINH); other quantities are not hours.
HOUR_UNITS = frozenset({"H", "HR", "HRS", "STD", "HUR"})
_ZERO = Decimal("0.0000")
#: No cost types configured: every cost element is `KSTAR <number>`.
PLAIN = CostTypes()


@dataclass(frozen=True, slots=True)
class CostObject:
    """Where a CO object's postings belong: the ledger's key type and key, the WBS element
    as task (for WBS objects), the WBS's project definition (PSPID)."""

    ref_type: str
    ref: str
    task: str | None = None
    project: str | None = None


@dataclass(frozen=True, slots=True)
class Wbs:
    """What the actuals need of a WBS element: its POSID and its project's PSPID."""

    posid: str
    pspid: str | None


def cost_object(objnr: str, wbs: Mapping[str, Wbs], by_project: bool) -> CostObject:
    """The ledger key of a CO object number. `wbs`: PRPS by OBJNR. `by_project`: a WBS
    element's postings go to its project definition (PSPID, a `project` key, the WBS as
    task); else to the WBS element itself (a `wbs` key for cost_object_map / link rules).
    Raises ValueError for an object type that is not read."""
    kind = objnr[:2]
    if kind == "PR":
        element = wbs.get(objnr)
        if element is None:  # not in PRPS (yet): its internal number waits on UNMAPPED
            return CostObject("wbs", objnr)
        if by_project and element.pspid:
            return CostObject("project", element.pspid, task=element.posid)
        return CostObject("wbs", element.posid, task=element.posid)
    if kind == "KS":
        return CostObject("cost_center", objnr[6:].lstrip("0") or objnr[6:])
    if kind == "OR":
        return CostObject("order", objnr[2:].lstrip("0") or objnr[2:])
    raise ValueError(f"OBJNR {objnr!r} is not a WBS element, cost center or order")


def hours_unit(unit: str | None) -> bool:
    return (unit or "").strip().upper() in HOUR_UNITS


@dataclass
class TotalLine:
    """One line being summed from totals records."""

    objnr: str
    kstar: str
    gjahr: str
    period: int
    wrttp: str
    amount: Decimal = _ZERO
    hours: Decimal | None = None
    #: Why a totals record of the line could not be read (the line is then rejected whole).
    error: str | None = None
    #: Whether a totals record of the line has a value in the period (a line netting to zero
    #: from a debit and a credit record is touched; a period never posted to is not).
    touched: bool = False

    @property
    def external_id(self) -> str:
        return f"{self.objnr}/{self.kstar}/{self.gjahr}/{self.period:03d}/{self.wrttp}"


def sum_totals(
    rows: Iterable[Row], periods: Iterable[int], shift: Decimal = Decimal(1)
) -> dict[str, TotalLine]:
    """COSP/COSS rows summed per line key for the SAP `periods` (1-16): `WKGppp` to amount
    (times `shift`, the controlling area currency's TCURX shift), `MEGppp` to hours where the
    unit (MEINH) is hours. Raises ValueError for a bad value."""
    wanted = list(periods)
    lines: dict[str, TotalLine] = {}
    for row in rows:
        for p in wanted:
            line = TotalLine(row["OBJNR"], row["KSTAR"], row["GJAHR"], p, row["WRTTP"])
            line = lines.setdefault(line.external_id, line)
            try:
                value = sap_amount(row.get(f"WKG{p:03d}"), f"WKG{p:03d}") * shift
                line.amount += value
                line.touched = line.touched or value != 0
                if hours_unit(row.get("MEINH")) and f"MEG{p:03d}" in row:
                    qty = sap_amount(row.get(f"MEG{p:03d}"), f"MEG{p:03d}")
                    line.hours = (line.hours or _ZERO) + qty
            except ValueError as exc:  # e.g. a packed value cut to `*1234.50` by the FM
                line.error = f"{row.get('OBJNR')} {row.get('KSTAR')} {row.get('GJAHR')}: {exc}"
    return lines


def total_actual(
    line: TotalLine,
    target: CostObject,
    *,
    currency: str,
    period: str,
    posted_on: date,
    read_at: datetime,
    cost_types: CostTypes = PLAIN,
) -> ActualRecord:
    """A totals line as an actual cost in the ledger period `period`, dated its last day; its
    cost element as `cost_types` maps it."""
    return ActualRecord(
        external_id=line.external_id,
        project_ref=target.ref,
        project_ref_type=target.ref_type,
        task_ref=target.task,
        posted_on=posted_on,
        period=period,
        kind="cost",
        cost_type=cost_types.of(line.kstar),
        currency=currency,
        amount=line.amount,
        hours=line.hours,
        description=f"CO totals {line.objnr} cost element {line.kstar}",
        source_modified_at=read_at,
    )


def project_record(row: Row) -> ProjectRecord:
    """A PROJ row: PSPID is the key and the code, POST1 the name, PWHIE the currency."""
    pspid = row.get("PSPID", "").strip()
    if not pspid:
        raise ValueError("PSPID is empty")
    return ProjectRecord(
        external_id=pspid,
        code=pspid,
        name=row.get("POST1", "").strip() or pspid,
        currency=row.get("PWHIE", "").strip() or None,
        manager=row.get("VERNA", "").strip() or None,
        planned_start=sap_date(row.get("PLFAZ"), "PLFAZ"),
        planned_finish=sap_date(row.get("PLSEZ"), "PLSEZ"),
    )


def task_record(row: Row, projects: Mapping[str, str], parents: Mapping[str, str]) -> TaskRecord:
    """A PRPS row: POSID the key and WBS code; `projects` PSPNR -> PSPID (PSPHI), `parents`
    PSPNR -> the parent's POSID (PRHI.UP). Raises ValueError for a WBS without project."""
    posid = row.get("POSID", "").strip()
    if not posid:
        raise ValueError("POSID is empty")
    pspid = projects.get(row.get("PSPHI", "").strip())
    if pspid is None:
        raise ValueError(f"PSPHI {row.get('PSPHI')!r} is no project definition in PROJ")
    return TaskRecord(
        external_id=posid,
        project_ref=pspid,
        name=row.get("POST1", "").strip() or posid,
        parent_ref=parents.get(row.get("PSPNR", "").strip()),
        wbs_code=posid,
    )


def fx_rate(row: Row, rate_type: str) -> FxRateRecord:
    """A TCURR row: valid from its inverted GDATU, the rate as `tcurr_rate` reads it."""
    valid_from = inverted_date(row.get("GDATU"), "GDATU")
    if valid_from is None:
        raise ValueError(f"GDATU {row.get('GDATU')!r} is no date")
    return FxRateRecord(
        from_ccy=row["FCURR"],
        to_ccy=row["TCURR"],
        valid_from=valid_from,
        rate=tcurr_rate(row.get("UKURS", ""), row.get("FFACT", ""), row.get("TFACT", "")),
        rate_type=rate_type,
    )
