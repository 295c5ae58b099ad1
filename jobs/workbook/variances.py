"""Variances: the findings of the reconciliation rules at the status date (as known then),
most severe first, with their measures, whether the variance was acknowledged by then (by
whom, the note), and a hyperlink to the record in its source (the one line behind it, else
the project's page; `status._links`). `Over` and `Over %` are the measures' own figures where
the rule has them."""

from __future__ import annotations

from decimal import Decimal

from pmo_ledger.jobs.workbook.book import HEADER, Book, col
from pmo_ledger.ledger.queries.variances import SEVERITY_ORDER

#: Excel keeps at most this many hyperlinks per sheet.
MAX_LINKS = 65_000
COLUMNS = [
    ("ID", 7), ("Severity", 9), ("Status", 12), ("Rule", 18), ("Subject", 9),
    ("Subject id", 18), ("Dimension", 12), ("Period", 8), ("Over", 14), ("Over %", 9),
    ("Message", 60), ("Measures", 40), ("First seen (UTC)", 17), ("Acknowledged (UTC)", 17),
    ("By", 14), ("Note", 24), ("Source record", 14),
]  # fmt: skip
SEVERITY, OVER, OVER_PCT = 1, 8, 9


def _number(value: object) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def write(book: Book) -> None:
    r = book.report
    ws = book.sheet("Variances", "Open variances")
    book.header(ws, [(f"{n} ({book.currency})" if n == "Over" else n, w) for n, w in COLUMNS])
    ws.freeze_panes(HEADER + 1, 2)
    rows = sorted(
        r.findings,
        key=lambda f: (SEVERITY_ORDER.get(f.finding.severity, 9), f.finding.rule,
                       f.finding.subject_id, f.finding.dimension, f.finding.period),
    )  # fmt: skip
    row = HEADER + 1
    links = 0
    for o in rows:
        f = o.finding
        over = _number(f.measures.get("over"))
        over_pct = _number(f.measures.get("over_pct"))
        book.write(ws, row, 0, o.variance_id, "int")
        book.write(ws, row, 1, f.severity)
        book.write(ws, row, 2, o.status)
        book.write(ws, row, 3, f.rule)
        book.write(ws, row, 4, f.subject_type)
        book.write(ws, row, 5, f.subject_id)
        book.write(ws, row, 6, f.dimension)
        book.write(ws, row, 7, f.period or None)
        book.write(ws, row, OVER, book.money(over) if f.dimension != "hours" else over,
                   "money" if f.dimension != "hours" else "hours")  # fmt: skip
        book.write(ws, row, OVER_PCT, None if over_pct is None else over_pct / 100, "pct")
        book.write(ws, row, 10, f.message)
        measures = "; ".join(f"{k} {v}" for k, v in f.measures.items() if v is not None)
        book.write(ws, row, 11, measures)
        book.write(ws, row, 12, o.first_seen_at, "datetime")
        book.write(ws, row, 13, o.acknowledged_at, "datetime")
        book.write(ws, row, 14, o.acknowledged_by)
        book.write(ws, row, 15, o.note)
        if o.url and links < MAX_LINKS and len(o.url) <= 2079:
            ws.write_url(row, 16, o.url, book.f("link"), "open in source")
            links += 1
        else:
            ws.write_blank(row, 16, None)
        row += 1
    last = max(row - 1, HEADER + 1)
    ws.autofilter(HEADER, 0, last, len(COLUMNS) - 1)
    sev = f"{col(SEVERITY)}{HEADER + 2}:{col(SEVERITY)}{last + 1}"
    for word, fmt in (("high", "red"), ("medium", "amber"), ("low", "green")):
        ws.conditional_format(sev, {"type": "cell", "criteria": "==", "value": f'"{word}"',
                                    "format": book.f(fmt)})  # fmt: skip
    if not rows:
        ws.write_string(HEADER + 1, 0, "No open variances.", book.f("subtitle"))
