"""CO line items (`actuals = "items"`): COEP lines of the documents COBK lists, one actual
per line, external id `<KOKRS>/<BELNR>/<BUZEI>`.

CO documents are never changed in place: a reversal or a move is a new document. So the
cursor is the document's entry time, COBK's `CPUDT`/`CPUTM` (the SAP system's local time,
`system_timezone`), and an incremental read takes the documents entered since the checkpoint
less the connector's lookback (the runner subtracts it). A full read lists every line in one
scope of the stream; `--period` re-reads one period's lines as a period scope.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pmo_ledger.connectors.kit.pages import Item, Marked
from pmo_ledger.connectors.sap.cost_types import CostTypes
from pmo_ledger.connectors.sap.normalize import PLAIN, Wbs, cost_object
from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.connectors.sap.rfc import any_of, condition
from pmo_ledger.connectors.sap.rfc_source import SETTLEMENT, RfcSource, objects_condition
from pmo_ledger.connectors.sap.values import sap_amount, sap_date, sap_time
from pmo_ledger.ledger.records import ActualRecord, Rejected

#: Documents per COEP query (their numbers travel as OR'ed conditions in OPTIONS lines).
DOCUMENTS_PER_QUERY = 50
COEP_FIELDS = [
    "KOKRS", "BELNR", "BUZEI", "GJAHR", "PERIO", "WRTTP", "VERSN", "OBJNR", "KSTAR", "WKGBTR",
    "MBGBTR", "MEINH", "SGTXT", "BELTP",
]  # fmt: skip


def entered_at(header: Mapping[str, str], tz: ZoneInfo) -> datetime | None:
    """COBK's CPUDT/CPUTM as an aware timestamp in the system's time zone."""
    day = sap_date(header.get("CPUDT"), "CPUDT")
    hms = sap_time(header.get("CPUTM"), "CPUTM") or (0, 0, 0)
    return datetime(day.year, day.month, day.day, *hms, tzinfo=tz) if day else None


def headers(source: RfcSource, since: datetime | None, tz: ZoneInfo) -> list[dict[str, str]]:
    """COBK documents of the controlling area (entered from `since`'s day on), oldest first."""
    s = source.settings
    where = [condition("KOKRS", "=", s.controlling_area or ""), condition("VERSN", "=", "000")]
    if since is not None:
        where.append(condition("CPUDT", ">=", since.astimezone(tz).strftime("%Y%m%d")))
    rows = source.client.read_table(
        "COBK",
        ["KOKRS", "BELNR", "BUDAT", "CPUDT", "CPUTM", "BLTXT"],
        " AND ".join(where),
        ["KOKRS", "BELNR"],
    )
    stamped = [(entered_at(r, tz), r) for r in rows]
    kept = [(at, r) for at, r in stamped if at is not None and (since is None or at >= since)]
    kept.sort(key=lambda t: (t[0], t[1]["BELNR"]))
    return [r for _, r in kept]


def lines(
    source: RfcSource, documents: Sequence[str] | None, periods: Mapping[int, Sequence[int]]
) -> list[dict[str, str]]:
    """COEP actual lines (WRTTP 04, version 000) of the object types read: of `documents`
    (in chunks), or of `periods` (fiscal year -> SAP periods; empty: every line)."""
    s = source.settings
    base = [
        condition("KOKRS", "=", s.controlling_area or ""),
        condition("WRTTP", "=", "04"),
        condition("VERSN", "=", s.plan_version),
        objects_condition(s.object_types),
    ]
    if not s.include_settlement:
        base.append(condition("BEKNZ", "<>", SETTLEMENT))
    key = ["KOKRS", "BELNR", "BUZEI"]
    wheres: list[str] = []
    if documents is not None:
        for start in range(0, len(documents), DOCUMENTS_PER_QUERY):
            chunk = list(documents[start : start + DOCUMENTS_PER_QUERY])
            wheres.append(" AND ".join([*base, any_of("BELNR", chunk)]))
    elif periods:
        for year, numbers in periods.items():
            scope = [
                condition("GJAHR", "=", f"{year:04d}"),
                any_of("PERIO", [f"{n:03d}" for n in numbers]),
            ]
            wheres.append(" AND ".join([*base, *scope]))
    else:
        wheres.append(" AND ".join(base))
    out: list[dict[str, str]] = []
    for where in wheres:
        out += source.client.read_table("COEP", COEP_FIELDS, where, key)
    return out


def item_records(
    rows: Sequence[Mapping[str, str]],
    header_of: Mapping[str, Mapping[str, str]],
    wbs: Mapping[str, Wbs],
    periods: FiscalPeriods,
    currency: str,
    tz: ZoneInfo,
    by_project: bool,
    shift: Decimal = Decimal(1),
    cost_types: CostTypes = PLAIN,
) -> Iterator[tuple[str, Item]]:
    """(ledger period, record or Rejected) per COEP line, in the documents' entry order;
    WKGBTR times `shift` (the controlling area currency's TCURX shift)."""
    order = {belnr: n for n, belnr in enumerate(header_of)}
    for row in sorted(rows, key=lambda r: (order.get(r["BELNR"], -1), r["BUZEI"])):
        ext = f"{row['KOKRS']}/{row['BELNR']}/{row['BUZEI']}"
        header = header_of.get(row["BELNR"], {})
        try:
            target = cost_object(row["OBJNR"], wbs, by_project=by_project)
            spec = periods.ledger_period(int(row["GJAHR"]), int(row["PERIO"]))
            posted = sap_date(header.get("BUDAT"), "BUDAT") or spec.end_on
            stamp = entered_at(header, tz) if header else None
            record = ActualRecord(
                external_id=ext,
                project_ref=target.ref,
                project_ref_type=target.ref_type,
                task_ref=target.task,
                posted_on=posted,
                period=spec.key,
                cost_type=cost_types.of(row["KSTAR"]),
                currency=currency,
                amount=sap_amount(row.get("WKGBTR"), "WKGBTR") * shift,
                description=row.get("SGTXT") or header.get("BLTXT") or None,
                source_modified_at=stamp,
            )
        except (ValueError, LookupError) as exc:
            yield "", Marked(None, Rejected(ext, "unreadable_row", {"error": str(exc)}))
            continue
        yield spec.key, record
