"""Data quality, three tables side by side under one header row: the quarantine entries open
then, by source and reason; per source, its last successful sync, how its last run ended and
its open quarantine; and the control-total drift of each stream's latest check (`pmo-ledger
verify`), source against ledger, the differences as formulas. The autofilter is on the
quarantine table (a sheet has one)."""

from __future__ import annotations

from pmo_ledger.jobs.workbook.book import HEADER, Book, cell, col

QUARANTINE = [("Source", 14), ("Reason", 20), ("Open entries", 10)]
SOURCES = [("Source", 14), ("Last successful sync (UTC)", 18), ("Last run", 11),
           ("Open quarantine", 10)]  # fmt: skip
DRIFT = [("Source", 14), ("Stream", 14), ("Checked at (UTC)", 18), ("Source count", 10),
         ("Ledger count", 10), ("Count drift", 10), ("Source amount", 15),
         ("Ledger amount", 15), ("Amount drift", 15), ("Groups off", 8)]  # fmt: skip
Q0, S0 = 0, len(QUARANTINE) + 1
D0 = S0 + len(SOURCES) + 1


def write(book: Book) -> None:
    r = book.report
    ws = book.sheet("Data quality", "Data quality")
    for first, title in ((Q0, "Open quarantine by reason"), (S0, "Sources"),
                         (D0, "Control-total drift (latest check per stream)")):  # fmt: skip
        ws.write_string(2, first, title, book.f("bold"))
    book.header(ws, QUARANTINE, first_col=Q0)
    book.header(ws, SOURCES, first_col=S0)
    book.header(ws, [(f"{n} ({book.currency})" if "amount" in n.lower() or n == "Amount drift"
                      else n, w) for n, w in DRIFT], first_col=D0)  # fmt: skip
    ws.set_column(Q0 + len(QUARANTINE), Q0 + len(QUARANTINE), 2)
    ws.set_column(S0 + len(SOURCES), S0 + len(SOURCES), 2)
    ws.set_row(HEADER, 45)
    ws.freeze_panes(HEADER + 1, 0)
    first = HEADER + 1
    n = max(len(r.quarantine) + 1, len(r.sources), len(r.drift), 1)
    q_total_row = first + len(r.quarantine)
    for i in range(n):
        row = first + i
        if i < len(r.quarantine):
            src, reason, count = r.quarantine[i]
            book.write(ws, row, Q0, src)
            book.write(ws, row, Q0 + 1, reason)
            book.write(ws, row, Q0 + 2, count, "int")
        elif row == q_total_row:
            ws.write_string(row, Q0, "Total", book.f("total"))
            ws.write_blank(row, Q0 + 1, None, book.f("total"))
            span = f"{cell(first, Q0 + 2)}:{cell(max(row - 1, first), Q0 + 2)}"
            total = sum(q[2] for q in r.quarantine)
            ws.write_formula(row, Q0 + 2, f"=SUM({span})" if r.quarantine else "=0",
                             book.f("int_bold"), total)  # fmt: skip
        if i < len(r.sources):
            h = r.sources[i]
            book.write(ws, row, S0, h.source)
            book.write(ws, row, S0 + 1, h.last_success, "datetime")
            book.write(ws, row, S0 + 2, h.last_status or "never")
            book.write(ws, row, S0 + 3, h.open_quarantine, "int")
        if i < len(r.drift):
            d = r.drift[i]
            book.write(ws, row, D0, d.source)
            book.write(ws, row, D0 + 1, d.stream)
            book.write(ws, row, D0 + 2, d.checked_at, "datetime")
            book.write(ws, row, D0 + 3, d.source_count, "int")
            book.write(ws, row, D0 + 4, d.ledger_count, "int")
            ws.write_formula(row, D0 + 5, f"={cell(row, D0 + 4)}-{cell(row, D0 + 3)}",
                             book.f("int"), d.ledger_count - d.source_count)  # fmt: skip
            book.write(ws, row, D0 + 6, book.money(d.source_amount), "money")
            book.write(ws, row, D0 + 7, book.money(d.ledger_amount), "money")
            drift = (book.money(d.ledger_amount) or 0) - (book.money(d.source_amount) or 0)
            ws.write_formula(row, D0 + 8, f"={cell(row, D0 + 7)}-{cell(row, D0 + 6)}",
                             book.f("money"), drift)  # fmt: skip
            book.write(ws, row, D0 + 9, d.groups_off, "int")
    last_q = max(first + len(r.quarantine) - 1, first)
    ws.autofilter(HEADER, Q0, last_q, Q0 + len(QUARANTINE) - 1)
    if r.drift:
        spans = (f"{col(D0 + 5)}{first + 1}:{col(D0 + 5)}{first + len(r.drift)}",
                f"{col(D0 + 8)}{first + 1}:{col(D0 + 8)}{first + len(r.drift)}")  # fmt: skip
        for rng in spans:
            ws.conditional_format(rng, {"type": "cell", "criteria": "!=", "value": 0,
                                        "format": book.f("overrun")})  # fmt: skip
