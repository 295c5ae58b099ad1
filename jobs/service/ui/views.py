"""What the dashboard's pages show, shaped from the ledger's figures: formatting, the portfolio's
filters, risk order, grouping (portfolio > program > project) and paging. Pure: no database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from pmo_ledger.ledger.queries.dashboard import PortfolioData, PortfolioRow
from pmo_ledger.ledger.rag import RagRules, consumption, rag

CENT = Decimal("0.01")
#: Projects per portfolio page.
PAGE_SIZE = 100
RAG_ORDER = {"red": 0, "amber": 1, "green": 2, None: 3}
RAGS = ("red", "amber", "green", "none")
SORTS = ("risk", "code", "name", "budget", "actual", "forecast", "cpi", "spi", "variances")


def money(value: Decimal | None) -> str:
    """Money to the cent, half up, with thousands separators ('1,234.50'); '' for None."""
    if value is None:
        return ""
    return f"{value.quantize(CENT, ROUND_HALF_UP):,}"


def ratio(value: Decimal | None, places: int = 2) -> str:
    """A ratio to `places` decimals, half up; '' for None (no figure)."""
    if value is None:
        return ""
    return str(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def when(value: datetime | None) -> str:
    """A UTC timestamp to the minute ('2026-12-07 12:30 UTC'); '' for None."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """'1 task', '2 tasks' ('1 entry', '3 entries' with `plural`)."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


#: Nouns the rules' messages count ("{n} lines posted ..."), plural to singular, and the verbs
#: that follow them ("1 record waits").
_SINGULAR = {
    "lines": "line", "records": "record", "entries": "entry", "tasks": "task",
    "periods": "period", "groups": "group", "rows": "row", "runs": "run", "days": "day",
    "projects": "project", "resources": "resource", "times": "time",
}  # fmt: skip
_VERBS = {"wait": "waits", "are": "is", "have": "has", "were": "was"}
_ONE = re.compile(
    r"(?<![\w.,-])1 ((?:actual |open |live )?)(" + "|".join(_SINGULAR) + r")\b"
    r"(?: (" + "|".join(_VERBS) + r")\b)?"
)


def counted(message: str | None) -> str:
    """A rule's stored message as the page shows it, in proper English: '1 lines posted' reads
    '1 line posted', '1 records wait' '1 record waits' (the stored message is left as the rule
    wrote it; other counts are unchanged)."""
    if not message:
        return ""

    def one(m: re.Match[str]) -> str:
        verb = f" {_VERBS[m.group(3)]}" if m.group(3) else ""
        return f"1 {m.group(1)}{_SINGULAR[m.group(2)]}{verb}"

    return _ONE.sub(one, message)


def safe_url(url: str | None) -> str | None:
    """A source system's link when it is http(s) (a `javascript:` URL from a source is not
    a link); None otherwise."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def apply_rag(data: PortfolioData, rules: RagRules) -> None:
    """Set each row's RAG by `[report.rag]` (ledger.rag): CPI, SPI and actual / budget."""
    for row in data.rows:
        row.rag = rag(
            rules, cpi=row.cpi, spi=row.spi, consumed=consumption(row.actual, row.budget)
        ).status


def rag_reasons(row: PortfolioRow, rules: RagRules) -> tuple[str, ...]:
    return rag(
        rules, cpi=row.cpi, spi=row.spi, consumed=consumption(row.actual, row.budget)
    ).reasons


@dataclass(frozen=True)
class Filters:
    """The portfolio's GET parameters (every one optional)."""

    portfolio: str = ""
    program: str = ""
    owner: str = ""
    rag: str = ""
    source: str = ""
    q: str = ""
    sort: str = "risk"
    page: int = 1

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Filters:
        def get(name: str) -> str:
            return (params.get(name) or "").strip()[:255]

        try:
            page = max(1, min(int(get("page") or 1), 100_000))
        except ValueError:
            page = 1
        sort = get("sort")
        rag_value = get("rag")
        return cls(
            portfolio=get("portfolio"),
            program=get("program"),
            owner=get("owner"),
            rag=rag_value if rag_value in RAGS else "",
            source=get("source"),
            q=get("q"),
            sort=sort if sort in SORTS else "risk",
            page=page,
        )

    def query(self, **changes: object) -> str:
        """The query string of these filters with `changes` (empty values left out)."""
        values: dict[str, object] = {
            "portfolio": self.portfolio, "program": self.program, "owner": self.owner,
            "rag": self.rag, "source": self.source, "q": self.q, "sort": self.sort,
            "page": self.page,
        }  # fmt: skip
        values.update(changes)
        if values["sort"] == "risk":
            values["sort"] = ""
        if values["page"] == 1:
            values["page"] = ""
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    @property
    def active(self) -> bool:
        return any((self.portfolio, self.program, self.owner, self.rag, self.source, self.q))

    def keep(self, row: PortfolioRow) -> bool:
        if self.portfolio and row.portfolio_code != self.portfolio:
            return False
        if self.program and row.program_code != self.program:
            return False
        if self.owner and (row.manager or "") != self.owner:
            return False
        if self.rag and (row.rag or "none") != self.rag:
            return False
        if self.source and self.source not in row.sources:
            return False
        if self.q:
            needle = self.q.casefold()
            if needle not in row.code.casefold() and needle not in row.name.casefold():
                return False
        return True


def risk_key(row: PortfolioRow) -> tuple[object, ...]:
    """Riskiest first: RAG (red, amber, green, none), open high then medium variances (more
    first), CPI then SPI (lower first, none last), then code."""
    big = Decimal("1e9")
    return (
        RAG_ORDER.get(row.rag, 3),
        -row.variances.get("high", 0),
        -row.variances.get("medium", 0),
        row.cpi if row.cpi is not None else big,
        row.spi if row.spi is not None else big,
        row.code,
    )


def _sort_key(sort: str) -> Callable[[PortfolioRow], tuple[Any, ...]]:
    """The order of `sort`: money largest first, CPI and SPI lowest first, a missing figure
    last; `risk` (the default): `risk_key`."""
    none_last = Decimal("1e30")
    if sort == "code":
        return lambda r: (r.code,)
    if sort == "name":
        return lambda r: (r.name.casefold(), r.code)
    if sort in ("budget", "actual", "forecast"):  # largest first
        return lambda r: (-(getattr(r, sort) or -none_last), r.code)
    if sort in ("cpi", "spi"):  # worst (lowest) first
        return lambda r: (getattr(r, sort) if getattr(r, sort) is not None else none_last, r.code)
    if sort == "variances":
        return lambda r: (-r.open_variances, r.code)
    return risk_key


@dataclass
class Totals:
    projects: int = 0
    budget: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)
    forecast: Decimal = Decimal(0)
    rag: dict[str, int] = field(default_factory=dict)
    variances: dict[str, int] = field(default_factory=dict)

    def add(self, row: PortfolioRow) -> None:
        self.projects += 1
        self.budget += row.budget
        self.actual += row.actual
        if row.forecast is not None:
            self.forecast += row.forecast
        key = row.rag or "none"
        self.rag[key] = self.rag.get(key, 0) + 1
        for severity, n in row.variances.items():
            self.variances[severity] = self.variances.get(severity, 0) + n


@dataclass
class Group:
    """A portfolio or program heading and the totals of its (filtered) projects."""

    level: str  # portfolio | program
    code: str | None
    name: str | None
    totals: Totals


@dataclass
class Line:
    """A row of the portfolio table: a heading or a project."""

    group: Group | None = None
    project: PortfolioRow | None = None


@dataclass
class PortfolioPage:
    lines: list[Line]
    totals: Totals
    page: int
    pages: int
    matched: int
    options: dict[str, list[str]]


def _group_key(row: PortfolioRow) -> tuple[str, str]:
    return (row.portfolio_code or "\uffff", row.program_code or "\uffff")


def portfolio_page(
    data: PortfolioData, filters: Filters, page_size: int = PAGE_SIZE
) -> PortfolioPage:
    """The filtered projects grouped by portfolio then program, each group ordered by its
    riskiest project (or the chosen sort's first), projects within by the sort, a page of
    `page_size` projects with the headings of the groups it shows."""
    kept = [r for r in data.rows if filters.keep(r)]
    key = _sort_key(filters.sort)
    kept.sort(key=key)
    first_of: dict[tuple[str, str], int] = {}
    first_pf: dict[str, int] = {}
    for i, r in enumerate(kept):
        first_of.setdefault(_group_key(r), i)
        first_pf.setdefault(_group_key(r)[0], i)
    ordered = sorted(
        kept,
        key=lambda r: (first_pf[_group_key(r)[0]], first_of[_group_key(r)], key(r)),
    )
    totals = Totals()
    pf_totals: dict[str, Totals] = {}
    pg_totals: dict[tuple[str, str], Totals] = {}
    for r in ordered:
        totals.add(r)
        pf_totals.setdefault(_group_key(r)[0], Totals()).add(r)
        pg_totals.setdefault(_group_key(r), Totals()).add(r)
    pages = max(1, -(-len(ordered) // page_size))
    page = min(filters.page, pages)
    shown = ordered[(page - 1) * page_size : page * page_size]
    lines: list[Line] = []
    last: tuple[str, str] | None = None
    for r in shown:
        gk = _group_key(r)
        if last is None or gk[0] != last[0]:
            lines.append(
                Line(Group("portfolio", r.portfolio_code, r.portfolio_name, pf_totals[gk[0]]))
            )
        if last is None or gk != last:
            lines.append(Line(Group("program", r.program_code, r.program_name, pg_totals[gk])))
        lines.append(Line(project=r))
        last = gk
    return PortfolioPage(lines, totals, page, pages, len(ordered), _options(data.rows))


def _options(rows: Iterable[PortfolioRow]) -> dict[str, list[str]]:
    rows = list(rows)
    return {
        "portfolio": sorted({r.portfolio_code for r in rows if r.portfolio_code}),
        "program": sorted({r.program_code for r in rows if r.program_code}),
        "owner": sorted({r.manager for r in rows if r.manager}),
        "source": sorted({s for r in rows for s in r.sources}),
        "rag": list(RAGS),
    }
