"""The cover note: when the figures are as of, the status date, the scope, the sources and
when each last synced, the command that writes this workbook again, the RAG thresholds (cells
the Summary's RAG formulas read by name: a PMO may try other thresholds there), and what each
sheet holds."""

from __future__ import annotations

from pmo_ledger.jobs.workbook.book import Book

SHEETS = (
    ("Summary", "portfolio > program > project: budget, actual, forecast, EAC, variance, CPI, "
                "SPI, open findings by severity and the RAG status"),
    ("Budget vs actual", "each project's budget and actual per fiscal period, cumulative, with "
                         "S-curve charts; overruns in red"),
    ("Variances", "the findings of the reconciliation rules at the status date, their "
                  "acknowledgement and a link to the record in its source"),
    ("Resources", "hours against capacity per resource and period (actual before the status "
                  "period, planned from it on); over 100% is over-allocated"),
    ("Schedule", "each project's tasks as a weekly Gantt (critical path in red, status date "
                 "marked) with the PERT expected finish, sigma and P(deadline)"),
    ("Data quality", "open quarantine by reason, the last successful sync per source and the "
                     "control-total drift of the latest checks"),
)  # fmt: skip

#: Defined names of the RAG thresholds -> (RagRules field, label).
RAG_NAMES = (
    ("RedCPI", "red_cpi", "Red when CPI is below"),
    ("AmberCPI", "amber_cpi", "Amber when CPI is below"),
    ("RedSPI", "red_spi", "Red when SPI is below"),
    ("AmberSPI", "amber_spi", "Amber when SPI is below"),
    ("RedUsed", "red_consumption", "Red when budget used (actual / budget) is above"),
    ("AmberUsed", "amber_consumption", "Amber when budget used is above"),
)


def write(book: Book, sources: list[tuple[str, str]], command: str) -> None:
    r = book.report
    ws = book.sheet("Cover", "Status report", book.scope_text())
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 4, 22)
    row = 3
    known = r.as_known_at.isoformat().replace("+00:00", "Z")
    facts = [
        ("As known at (UTC)", r.as_known_at, "datetime"),
        ("As known at, exactly", known, "text"),
        ("Status date", r.status_date, "date"),
        ("Fiscal period", r.period, "text"),
        ("Amounts in", book.currency, "text"),
        ("Portfolio", r.portfolio or "all", "text"),
        ("Program", r.program or "all", "text"),
        ("Projects", len(r.projects), "int"),
        ("Write it again with", command, "text"),
    ]
    for label, value, fmt in facts:
        ws.write_string(row, 0, label, book.f("label"))
        book.write(ws, row, 1, value, fmt)
        if label == "Status date":  # the Schedule's Gantt marks its week
            book.wb.define_name("StatusDate", f"=Cover!$B${row + 1}")
        row += 1
    row += 1
    ws.write_string(row, 0, "Sources", book.f("title"))
    row += 1
    book.header(ws, [("Source", 34), ("Kind", 24), ("Last successful sync (UTC)", 22),
                     ("Last run", 22)], row=row)  # fmt: skip
    kinds = dict(sources)
    health = {h.source: h for h in r.sources}
    for name in sorted(set(kinds) | set(health)):
        row += 1
        h = health.get(name)
        book.write(ws, row, 0, name)
        book.write(ws, row, 1, kinds.get(name, "(not configured)"))
        book.write(ws, row, 2, h.last_success if h else None, "datetime")
        book.write(ws, row, 3, (h.last_status if h else None) or "never")
    row += 2
    ws.write_string(row, 0, "RAG rules (edit to try other thresholds)", book.f("title"))
    for name, key, label in RAG_NAMES:
        row += 1
        ws.write_string(row, 0, label, book.f("label"))
        ws.write_number(row, 1, float(getattr(book.rag_rules, key)), book.f("input"))
        book.wb.define_name(name, f"=Cover!$B${row + 1}")
    row += 1
    ws.write_string(
        row, 0, "The worst rule wins; a figure without a value (no baseline, no budget) is "
        "skipped; a threshold exactly met is not past it.", book.f("subtitle"),
    )  # fmt: skip
    row += 2
    ws.write_string(row, 0, "Sheets", book.f("title"))
    for name, what in SHEETS:
        row += 1
        ws.write_string(row, 0, name, book.f("bold"))
        ws.write_string(row, 1, what)
    if r.notes:
        row += 2
        ws.write_string(row, 0, "Notes", book.f("title"))
        for note in r.notes:
            row += 1
            ws.write_string(row, 0, note)
