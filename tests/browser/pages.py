"""Reading the dashboard's pages in the browser and the ledger's own figures to compare them
with."""

from __future__ import annotations

import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from playwright.sync_api import Page
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import UNMAPPED_CODE, Program, Project, ProjectLink, Variance
from pmo_ledger.ledger.queries.reports import BudgetVsActual, budget_vs_actual

#: What a keyboard can focus with Tab.
CONTROLS = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1'])"
)
#: The statuses of a variance that is still open (acknowledged ones stay listed).
OPEN = ("open", "acknowledged")


def money(value: Decimal) -> str:
    """As the dashboard shows money: to the cent, half up, thousands separated."""
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def ratio(value: Decimal, places: int = 2) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def grid(page: Page, table: str, key: str) -> dict[str, dict[str, str]]:
    """The body rows of `table` that carry the attribute `key`, by its value: each a dict of
    column heading -> the cell's text (whitespace collapsed)."""
    rows: dict[str, dict[str, str]] = page.eval_on_selector(
        table,
        """(table, key) => {
            const clean = (s) => s.replace(/\\s+/g, ' ').trim();
            const heads = [...table.querySelectorAll('thead th')].map((th) => clean(th.textContent));
            const out = {};
            for (const tr of table.querySelectorAll(`tbody tr[${key}]`)) {
                const cells = [...tr.children].map((td) => clean(td.textContent));
                out[tr.getAttribute(key)] = Object.fromEntries(heads.map((h, i) => [h, cells[i]]));
            }
            return out;
        }""",
        key,
    )
    return rows


def row_keys(page: Page, table: str, key: str) -> list[str]:
    """The `key` attribute of the body rows of `table`, in order."""
    keys: list[str] = page.eval_on_selector_all(
        f"{table} tbody tr[{key}]", f"(trs) => trs.map((tr) => tr.getAttribute('{key}'))"
    )
    return keys


# --- the ledger's own figures ----------------------------------------------------------------


def report_rows(engine: Engine) -> dict[str, BudgetVsActual]:
    """`pmo-ledger report`'s budget and actual per project (v_project_budget_vs_actual)."""
    with Session(engine) as s:
        return {r.project_code: r for r in budget_vs_actual(s) if r.project_code != UNMAPPED_CODE}


def open_counts(engine: Engine) -> dict[str, Counter[str]]:
    """Open (or acknowledged) variances per project code and severity."""
    with Session(engine) as s:
        rows = s.execute(
            select(Project.code, Variance.severity)
            .join(Project, Project.id == Variance.project_id)
            .where(Variance.status.in_(OPEN))
        ).all()
    counts: dict[str, Counter[str]] = {}
    for code, severity in rows:
        counts.setdefault(code, Counter())[severity] += 1
    return counts


def projects_by(engine: Engine) -> dict[str, dict[str, Any]]:
    """Each live project's program code, manager and linked sources."""
    with Session(engine) as s:
        found = s.execute(
            select(Project.id, Project.code, Program.code, Project.manager, Project.source)
            .outerjoin(Program, Program.id == Project.program_id)
            .where(Project.deleted_at.is_(None), Project.merged_into_id.is_(None),
                   Project.code != UNMAPPED_CODE)
        ).all()  # fmt: skip
        links = s.execute(select(ProjectLink.project_id, ProjectLink.source).distinct()).all()
    sources: dict[int, set[str]] = {}
    for pid, source in links:
        sources.setdefault(pid, set()).add(source)
    return {
        code: {"program": program, "manager": manager,
               "sources": sources.get(pid, set()) | ({source} if source else set())}
        for pid, code, program, manager, source in found
    }  # fmt: skip


def forecast(engine: Engine, code: str) -> dict[str, Decimal]:
    """EAC, BAC, CPI and SPI as reconcile's forecast_overrun finding on `code` states them."""
    with Session(engine) as s:
        message = s.scalar(
            select(Variance.message).where(
                Variance.rule == "forecast_overrun", Variance.subject_id == code
            )
        )
    assert message is not None, f"no forecast_overrun finding on {code}"
    found = re.search(
        r"EAC (?P<eac>[\d.]+) \(\w+\) exceeds BAC (?P<bac>[\d.]+) .*CPI (?P<cpi>[\d.]+), "
        r"SPI (?P<spi>[\d.]+)",
        message,
    )
    assert found is not None, message
    return {k: Decimal(v) for k, v in found.groupdict().items()}


def variance_of(engine: Engine, rule: str, subject: str, period: str | None = None) -> Variance:
    """The one finding of `rule` on `subject` (in `period`, when given)."""
    with Session(engine) as s:
        query = select(Variance).where(Variance.rule == rule, Variance.subject_id == subject)
        if period is not None:
            query = query.where(Variance.period == period)
        return s.scalars(query).one()
