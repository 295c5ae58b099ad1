"""Summary: one row per portfolio, program and project (Excel outline levels 0, 1, 2, the
summary rows above their detail), a grand total at the bottom.

Figures a PMO edits are values (budget, actual, forecast, EAC, PV, EV, counts); the ones that
follow from them are formulas, written with the value the ledger computed as their cached
result: variance = budget - actual, variance % = variance / budget, budget used = actual /
budget, CPI = EV / actual, SPI = EV / PV, the RAG status from the thresholds on the Cover
(defined names RedCPI, AmberCPI, ...). Portfolio, program and total rows are SUBTOTAL(9, ...)
of the rows below them (SUBTOTAL leaves nested subtotals out, so nothing counts twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from xlsxwriter.worksheet import Worksheet

from pmo_ledger.jobs.workbook.book import HEADER, Book, cell, col
from pmo_ledger.ledger.queries.status import ProjectStatus
from pmo_ledger.ledger.rag import Rag, consumption, rag

SEVERITIES = ("high", "medium", "low")
COLUMNS = [
    ("Level", 10), ("Code", 22), ("Name", 30), ("Manager", 16),
    ("Budget", 15), ("Actual to date", 15), ("Forecast", 15), ("EAC", 15),
    ("Variance (budget - actual)", 15), ("Variance %", 10), ("Budget used", 10),
    ("PV", 15), ("EV", 15), ("CPI", 7), ("SPI", 7),
    ("High", 7), ("Medium", 8), ("Low", 7), ("RAG", 8), ("Why", 40),
]  # fmt: skip
# Column indexes.
BUDGET, ACTUAL, FORECAST, EAC, VAR, VAR_PCT, USED, PV, EV, CPI, SPI = range(4, 15)
HIGH, RAG_COL, WHY = 15, 18, 19
SUMMED = (BUDGET, ACTUAL, FORECAST, EAC, PV, EV, HIGH, HIGH + 1, HIGH + 2)


@dataclass
class Figures:
    """The values of one row (a project, or the sum of a group's projects)."""

    budget: Decimal
    actual: Decimal
    forecast: Decimal | None
    eac: Decimal | None
    pv: Decimal | None
    ev: Decimal | None
    counts: tuple[int, int, int]

    @classmethod
    def of(cls, p: ProjectStatus) -> Figures:
        e = p.evm
        return cls(
            p.budget, p.actual, p.forecast, p.eac, e.pv if e else None, e.ev if e else None,
            tuple(p.open_by_severity.get(s, 0) for s in SEVERITIES),  # type: ignore[arg-type]
        )  # fmt: skip

    @classmethod
    def total(cls, rows: Iterable[Figures]) -> Figures:
        rows = list(rows)

        def add(values: list[Decimal | None]) -> Decimal | None:
            present = [v for v in values if v is not None]
            return sum(present, Decimal(0)) if present else None

        return cls(
            sum((r.budget for r in rows), Decimal(0)),
            sum((r.actual for r in rows), Decimal(0)),
            add([r.forecast for r in rows]),
            add([r.eac for r in rows]),
            add([r.pv for r in rows]),
            add([r.ev for r in rows]),
            tuple(sum(r.counts[i] for r in rows) for i in range(3)),  # type: ignore[arg-type]
        )


def _div(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None or b == 0 else a / b


def _ratios(book: Book, f: Figures) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """CPI, SPI and budget used as the sheet's formulas compute them from the rounded cells."""
    m = {k: None if v is None else Decimal(str(book.money(v))) for k, v in
         (("b", f.budget), ("a", f.actual), ("pv", f.pv), ("ev", f.ev))}  # fmt: skip
    return (
        _div(m["ev"], m["a"]),
        _div(m["ev"], m["pv"]),
        (None if m["b"] is None else consumption(m["a"] or Decimal(0), m["b"])),
    )


def rag_formula(row: int) -> str:
    cpi, spi, used = cell(row, CPI), cell(row, SPI), cell(row, USED)

    def past(red: bool) -> str:
        level = "Red" if red else "Amber"
        return (f'OR(AND({cpi}<>"",{cpi}<{level}CPI),AND({spi}<>"",{spi}<{level}SPI),'
                f'AND({used}<>"",{used}>{level}Used))')  # fmt: skip

    return (f'=IF(AND({cpi}="",{spi}="",{used}=""),"n/a",IF({past(True)},"RED",'
            f'IF({past(False)},"AMBER","GREEN")))')  # fmt: skip


def _row(book: Book, ws: Worksheet, row: int, f: Figures, kind: str, detail: tuple[int, int] | None,
         rag_of: Rag) -> None:  # fmt: skip
    """The figures of one row: values (detail None) or SUBTOTALs of rows detail[0]..detail[1]."""
    suffix = {"project": "", "portfolio": "portfolio_", "program": "program_", "total": ""}[kind]
    bold = kind == "total"

    def fmt(name: str) -> str:
        if bold:
            return f"{name}_bold"
        return f"{suffix}{name}" if suffix else name

    values = {BUDGET: f.budget, ACTUAL: f.actual, FORECAST: f.forecast, EAC: f.eac, PV: f.pv,
              EV: f.ev, HIGH: f.counts[0], HIGH + 1: f.counts[1],
              HIGH + 2: f.counts[2]}  # fmt: skip
    for c, v in values.items():
        kind_fmt = fmt("int") if c >= HIGH else fmt("money")
        number = v if c >= HIGH else book.money(v)  # type: ignore[arg-type]
        if detail is None:
            if number is None:
                ws.write_blank(row, c, None, book.f(kind_fmt))
            else:
                ws.write_number(row, c, number, book.f(kind_fmt))
        else:
            first, last = detail
            ws.write_formula(row, c, f"=SUBTOTAL(9,{cell(first, c)}:{cell(last, c)})",
                             book.f(kind_fmt), number if number is not None else 0)  # fmt: skip
    cpi, spi, used = _ratios(book, f)
    if detail is not None and not f.pv:  # a group without earned value: no CPI (formula)
        cpi = None
    b, a, pv, ev = (cell(row, c) for c in (BUDGET, ACTUAL, PV, EV))
    money = book.money
    variance = money(f.budget - f.actual)
    ws.write_formula(row, VAR, f"={b}-{a}", book.f(fmt("money")), variance)
    var_pct = None if f.budget == 0 else Decimal(str(variance)) / Decimal(str(money(f.budget)))
    formulas = (
        (VAR_PCT, f'=IF({b}=0,"",{cell(row, VAR)}/{b})', "pct", var_pct),
        (USED, f'=IF({b}=0,"",{a}/{b})', "pct", used),
        (
            CPI,
            f'=IF(OR({ev}="",{a}=0),"",{ev}/{a})'
            if detail is None
            else f'=IF(OR({pv}=0,{a}=0),"",{ev}/{a})',
            "ratio",
            cpi,
        ),
        (SPI, f'=IF(OR({ev}="",{pv}="",{pv}=0),"",{ev}/{pv})', "ratio", spi),
    )
    for c, formula, name, value in formulas:
        ws.write_formula(row, c, formula, book.f(fmt(name)), "" if value is None else float(value))
    ws.write_formula(row, RAG_COL, rag_formula(row), book.f(fmt("text") if not bold else "total"),
                     rag_of.label)  # fmt: skip
    book.write(ws, row, WHY, "; ".join(rag_of.reasons) or None,
               "text" if kind == "project" else fmt("text"))  # fmt: skip


def _rag(book: Book, f: Figures, group: bool = False) -> Rag:
    cpi, spi, used = _ratios(book, f)
    if group and not f.pv:
        cpi = None
    return rag(book.rag_rules, cpi=cpi, spi=spi, consumed=used)


def _group(
    book: Book, ws: Worksheet, row: int, level: str, code: str | None, name: str | None,
    projects: list[ProjectStatus], rows_below: int,
) -> None:  # fmt: skip
    """A portfolio or program row (outline level 0 or 1): SUBTOTALs of the next rows."""
    figures = Figures.total(Figures.of(p) for p in projects)
    fmt = book.f(level)
    ws.set_row(row, None, None, {"level": 0 if level == "portfolio" else 1})
    ws.write_string(row, 0, level.capitalize(), fmt)
    ws.write_string(row, 1, code or f"(no {level})", fmt)
    ws.write_string(row, 2, name or "", fmt)
    ws.write_blank(row, 3, None, fmt)
    _row(book, ws, row, figures, level, (row + 1, row + rows_below), _rag(book, figures, True))


def write(book: Book) -> None:
    r = book.report
    ws = book.sheet("Summary", "Portfolio status")
    plain = {*range(BUDGET), VAR_PCT, USED, CPI, SPI, *range(HIGH, len(COLUMNS))}
    book.header(
        ws, [(n if i in plain else f"{n} ({book.currency})", w) for i, (n, w) in enumerate(COLUMNS)]
    )
    ws.set_row(HEADER, 45)
    ws.outline_settings(True, False, True, False)  # summary rows above their detail
    ws.freeze_panes(HEADER + 1, 3)
    row = HEADER + 1
    first = row
    projects = r.projects
    # Rows: portfolio, its programs, their projects; the groups' extents are known up front.
    groups = [
        (pf, [(pg, list(ps)) for pg, ps in groupby(list(items), key=lambda p: p.program)])
        for pf, items in groupby(projects, key=lambda p: p.portfolio)
    ]
    for pf, programs in groups:
        all_ps = [p for _pg, ps in programs for p in ps]
        n = len(all_ps) + len(programs)
        _group(book, ws, row, "portfolio", pf, all_ps[0].portfolio_name, all_ps, n)
        row += 1
        for pg, ps in programs:
            _group(book, ws, row, "program", pg, ps[0].program_name, ps, len(ps))
            row += 1
            for p in ps:
                ws.set_row(row, None, None, {"level": 2})
                ws.write_string(row, 0, "Project")
                if p.source_url:
                    ws.write_url(row, 1, p.source_url, book.f("link"), p.code)
                else:
                    ws.write_string(row, 1, p.code, book.f("indent2"))
                book.write(ws, row, 2, p.name)
                book.write(ws, row, 3, p.manager)
                figures = Figures.of(p)
                _row(book, ws, row, figures, "project", None, _rag(book, figures))
                row += 1
    last = row - 1
    total = Figures.total(Figures.of(p) for p in projects)
    ws.write_string(row, 0, "Total", book.f("total"))
    for c in (1, 2, 3):
        ws.write_blank(row, c, None, book.f("total"))
    _row(book, ws, row, total, "total", (first, max(last, first)), _rag(book, total, True))
    ws.autofilter(HEADER, 0, max(last, HEADER + 1), len(COLUMNS) - 1)
    rag_range = f"{col(RAG_COL)}{first + 1}:{col(RAG_COL)}{row + 1}"
    for word, fmt in (("RED", "red"), ("AMBER", "amber"), ("GREEN", "green")):
        ws.conditional_format(rag_range, {"type": "cell", "criteria": "==", "value": f'"{word}"',
                                          "format": book.f(fmt)})  # fmt: skip
    ws.conditional_format(
        f"{col(VAR)}{first + 1}:{col(VAR)}{row + 1}",
        {"type": "cell", "criteria": "<", "value": 0, "format": book.f("overrun")},
    )
