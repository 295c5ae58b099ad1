"""The dashboard's pages in-process (both engines): the figures each page shows are the ledger's
(read independently through its views and the API's queries), the portfolio's filters change
the rows (with and without htmx), the project page's EVM, periods, schedule, variances and
identities, and what the pure page logic does with 250 projects (groups, risk order, paging)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.ui import views
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.models import (
    ControlTotal,
    LedgerEntry,
    Project,
    Quarantine,
    Task,
    Variance,
    utcnow,
)
from pmo_ledger.ledger.queries.dashboard import PortfolioData, PortfolioRow
from pmo_ledger.ledger.queries.reports import budget_vs_actual
from pmo_ledger.ledger.rag import RagRules
from tests.builders import actual as actual_record
from tests.builders import leave_ids_free
from tests.builders import load as apply_records
from tests.service.helpers import make_app

TOKEN = "ui-t0ken-for-tests"
#: Twelve projects in three programs over 2026, so today's status date has periods and EVM.
SAMPLE = 'projects = 12\nactuals = 600\nstart = "2026-01-01"\nmonths = 12\npage_size = 200'


# --- helpers ---------------------------------------------------------------------------------


class Rows(HTMLParser):
    """The text of each cell of the <tr>s carrying `attr` (e.g. data-project), by its value."""

    def __init__(self, attr: str) -> None:
        super().__init__()
        self.attr = attr
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and self.attr in found:
            self._row = found[self.attr] or ""
            self.rows[self._row] = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows(html: str, attr: str) -> dict[str, list[str]]:
    parser = Rows(attr)
    parser.feed(html)
    return parser.rows


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def two(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


@dataclass
class Ui:
    client: TestClient
    worker: Worker
    app: App
    engine: Engine

    def sign_in(self) -> str:
        """Sign the client in; the session's CSRF token (read from a page's form)."""
        answer = self.client.post(
            "/ui/signin", data={"token": TOKEN, "next": "/ui/operations"}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        page = self.client.get("/ui/operations").text
        marker = 'name="csrf" value="'
        return page[page.index(marker) + len(marker) :].split('"', 1)[0]


def build(engine: Engine, tmp_path: Path, service: str = f'api_token = "{TOKEN}"') -> Ui:
    app = make_app(engine, tmp_path, {"psa": SAMPLE}, service=service)
    worker = Worker(app, Notifier([]))
    return Ui(TestClient(create_api(worker, lambda: True)), worker, app, engine)


def load(ui: Ui) -> None:
    """Sync the sample and reconcile, as `serve` does."""
    assert run_sync(ui.app, "psa").status == "succeeded"
    run_reconcile(ui.app)


@contextmanager
def loaded(engine: Engine, tmp_path: Path) -> Iterator[Ui]:
    """The dashboard over the sample, synced and reconciled; its worker stopped after."""
    built = build(engine, tmp_path)
    load(built)
    with built.client:
        yield built
    built.worker.stop(5)


@pytest.fixture
def ui(engine: Engine, tmp_path: Path) -> Iterator[Ui]:
    with loaded(engine, tmp_path) as built:
        yield built


def view_evm(engine: Engine) -> dict[str, Evm]:
    """BAC, PV, EV, AC per project code from v_project_evm (the ledger's SQL view)."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT project_code, bac, pv, ev, ac FROM v_project_evm")).all()
    return {r[0]: Evm(*(Decimal(str(v)) for v in r[1:])) for r in found}


def open_counts(engine: Engine) -> dict[str, dict[str, int]]:
    with Session(engine) as s:
        found = s.execute(
            select(Project.code, Variance.severity, func.count())
            .join(Project, Project.id == Variance.project_id)
            .where(Variance.status != "resolved")
            .group_by(Project.code, Variance.severity)
        ).all()
    out: dict[str, dict[str, int]] = {}
    for code, severity, n in found:
        out.setdefault(code, {})[severity] = n
    return out


# --- portfolio -------------------------------------------------------------------------------


def test_the_portfolio_shows_every_project_with_the_ledgers_figures(ui: Ui) -> None:
    page = ui.client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    shown = rows(page.text, "data-project")
    with Session(ui.engine) as s:
        ledger = {r.project_code: r for r in budget_vs_actual(s) if r.project_code != "UNMAPPED"}
    assert set(shown) == set(ledger) and len(shown) == 12
    evm = view_evm(ui.engine)
    assert evm, "the sample has baselines in force today"
    counts = open_counts(ui.engine)
    assert sum(n for c in counts.values() for n in c.values()) > 0
    rules = RagRules()
    for code, cells in shown.items():
        rag, project, _owner, budget, actual, forecast, cpi, spi, high, med, low = cells[:11]
        r = ledger[code]
        assert project.startswith(f"{code} {r.project_name}")
        assert (budget, actual) == (money(r.budget), money(r.actual)), code
        e = evm.get(code)
        assert cpi == two(e.cpi if e else None), code
        assert spi == two(e.spi if e else None), code
        assert forecast == money(e.eac("cpi") if e else None), code
        sev = counts.get(code, {})
        assert (high, med, low) == tuple(
            str(sev.get(k, 0) or "") for k in ("high", "medium", "low")
        )
        from pmo_ledger.ledger.rag import consumption
        from pmo_ledger.ledger.rag import rag as rag_of

        expected = rag_of(rules, cpi=e.cpi if e else None, spi=e.spi if e else None,
                          consumed=consumption(r.actual, r.budget)).label  # fmt: skip
        assert rag == expected, code
    assert "Earned value at status date" in page.text
    assert f"<strong>{datetime.now(UTC).date()}</strong>" in page.text
    assert "Last successful sync:" in page.text and "psa 20" in page.text
    # riskiest first within each program: red before amber before green before n/a
    order = list(shown)
    ranks = [views.RAG_ORDER[{"RED": "red", "AMBER": "amber", "GREEN": "green"}.get(shown[c][0])]
             for c in order]  # fmt: skip
    by_program: dict[str, list[int]] = {}
    with Session(ui.engine) as s:
        program_of = dict(s.execute(select(Project.code, Project.program_id)).all())
    for code, rank in zip(order, ranks, strict=True):
        by_program.setdefault(str(program_of[code]), []).append(rank)
    assert all(r == sorted(r) for r in by_program.values())


def test_portfolio_filters_change_the_rows_with_and_without_htmx(ui: Ui) -> None:
    every = rows(ui.client.get("/ui").text, "data-project")
    with Session(ui.engine) as s:
        facts = s.execute(select(Project.code, Project.manager)).all()
    owner_of = dict(facts)
    red = {c for c, cells in every.items() if cells[0] == "RED"}
    assert red and red != set(every)
    assert set(rows(ui.client.get("/ui?rag=red").text, "data-project")) == red
    green = {c for c, cells in every.items() if cells[0] == "GREEN"}
    assert set(rows(ui.client.get("/ui?rag=green").text, "data-project")) == green
    some = next(iter(every))
    owner = owner_of[some]
    owned = {c for c in every if owner_of[c] == owner}
    assert set(rows(ui.client.get("/ui", params={"owner": owner}).text, "data-project")) == owned
    program = ui.client.get("/ui", params={"program": "PGM-02"}).text
    assert set(rows(program, "data-project")) == {
        c for c, cells in every.items() if c in _program_codes(ui.engine, "PGM-02")
    }
    assert len(rows(program, "data-project")) == 4
    assert set(rows(ui.client.get("/ui?source=psa").text, "data-project")) == set(every)
    assert rows(ui.client.get("/ui?source=sap").text, "data-project") == {}
    assert "No project matches these filters." in ui.client.get("/ui?source=sap").text
    assert set(rows(ui.client.get("/ui?q=prj-0003").text, "data-project")) == {"PRJ-0003"}
    assert set(rows(ui.client.get("/ui?portfolio=ENTERPRISE-PORTFOLIO").text,
                    "data-project")) == set(every)  # fmt: skip
    # htmx: the same filter answers the results section alone
    partial = ui.client.get(
        "/ui?rag=red", headers={"HX-Request": "true", "HX-Target": "portfolio-results"}
    )
    assert partial.text.lstrip().startswith('<section id="portfolio-results"')
    assert "<html" not in partial.text
    assert set(rows(partial.text, "data-project")) == red
    # a history restore asks for the whole page
    restore = ui.client.get("/ui?rag=red", headers={
        "HX-Request": "true", "HX-Target": "portfolio-results", "HX-History-Restore-Request": "true"
    })  # fmt: skip
    assert "<html" in restore.text
    # the form works without JavaScript: a GET form naming each filter
    assert '<form class="filters" method="get" action="/ui"' in every_page(ui)
    for name in ("portfolio", "program", "owner", "rag", "source"):
        assert f'<select name="{name}">' in every_page(ui)


def every_page(ui: Ui) -> str:
    return ui.client.get("/ui").text


def _program_codes(engine: Engine, program: str) -> set[str]:
    with engine.connect() as conn:
        return {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT p.code FROM project p JOIN program g ON g.id = p.program_id"
                    " WHERE g.code = :g"
                ),
                {"g": program},
            )
        }


# --- project ---------------------------------------------------------------------------------


def test_the_project_page_shows_its_evm_periods_schedule_variances_and_identities(ui: Ui) -> None:
    evm = view_evm(ui.engine)
    code = sorted(c for c, e in evm.items() if e.ev > 0)[0]
    page = ui.client.get(f"/ui/projects/{code}")
    assert page.status_code == 200, page.text
    html = page.text
    e = evm[code]
    for key, value in (("bac", e.bac), ("pv", e.pv), ("ev", e.ev), ("ac", e.ac), ("cv", e.cv),
                       ("sv", e.sv), ("eac", e.eac("cpi"))):  # fmt: skip
        assert (
            f'data-figure="{key}"><div class="label">{key.upper()}</div><div class="value">{money(value)}<'
            in html
        ), key
    assert f'<div class="label">CPI</div><div class="value">{e.rounded()["cpi"]}<' in html
    assert f'<div class="label">SPI</div><div class="value">{e.rounded()["spi"]}<' in html
    # budget vs actual by period: the view's rows
    with ui.engine.connect() as conn:
        periods = conn.execute(
            text(
                "SELECT period, budget, actual FROM v_project_budget_vs_actual_by_period"
                " WHERE project_code = :c ORDER BY period"
            ),
            {"c": code},
        ).all()
    table = html[html.index('id="periods"') :]
    for period, budget, actual in periods:
        assert f"<tr><td class=\"period\">{period}</td><td class=\"num\">{money(Decimal(str(budget)))}</td>" \
               f"<td class=\"num\">{money(Decimal(str(actual)))}</td>" in table  # fmt: skip
    # S-curve and Gantt are SVG drawn on the server; one bar per live task
    assert html.count('<polyline class="pv"') == 1 and html.count('<polyline class="ac"') == 1
    with Session(ui.engine) as s:
        project_id = s.scalar(select(Project.id).where(Project.code == code))
        tasks = s.scalar(
            select(func.count()).where(Task.project_id == project_id, Task.deleted_at.is_(None))
        )
    drawn = (
        html.count('<rect class="bar')
        + html.count('<rect class="summary-bar"')
        + html.count('<rect class="milestone"')
    )
    assert drawn == tasks > 0
    assert 'class="status" x1=' in html  # the status-date line
    assert "PERT expected finish" in html and "Critical path:" in html
    # open variances with the ledger lines behind each (v_variance_lines; a data_quality line
    # check's are the lines it counted, `measures.lines`)
    with Session(ui.engine) as s:
        found = s.execute(
            select(Variance.id, Variance.rule, Variance.measures)
            .where(Variance.project_id == project_id, Variance.status != "resolved")
        ).all()  # fmt: skip
    assert f"Open variances ({len(found)})" in html
    with ui.engine.connect() as conn:
        for vid, rule, measures in found:
            n = conn.execute(
                text("SELECT count(*) FROM v_variance_lines WHERE variance_id = :v"), {"v": vid}
            ).scalar_one()
            if rule == "data_quality":
                n = measures["lines"]
            label = f"{min(n, 50)} ledger line{'' if n == 1 else 's'}"
            block = html[html.index(f'id="variance-{vid}"') :]
            assert label in block[: block.index("</summary>")], vid
    # identities across sources: the authority's project record
    ids = rows(html.replace("<tr><td>psa</td>", '<tr data-id="psa"><td>psa</td>', 1), "data-id")
    assert ids["psa"][1] == "project (authority)"
    # sync health of its sources
    assert html.count("<td>psa</td><td>actuals</td>") == 1


def test_an_unknown_project_is_a_404_page(ui: Ui) -> None:
    answer = ui.client.get("/ui/projects/NOPE-1")
    assert answer.status_code == 404
    assert "There is no project &#39;NOPE-1&#39; in the ledger." in answer.text


# --- variances and operations ----------------------------------------------------------------


def test_the_variances_page_lists_and_filters_as_the_api_does(ui: Ui) -> None:
    for params in ({}, {"severity": "high"}, {"rule": "budget_overrun"}, {"project": "PRJ-0002"}):
        api = ui.client.get("/variances", params={"open": "true", "limit": 500, **params}).json()
        page = ui.client.get("/ui/variances", params=params).text
        shown = rows(page, "data-variance")
        assert [int(i) for i in shown] == [v["id"] for v in api["items"]][:50], params
        assert f"<strong>{api['total']}</strong> variance" in page
    first = ui.client.get("/variances", params={"open": "true", "limit": 1}).json()["items"][0]
    cells = rows(ui.client.get("/ui/variances").text, "data-variance")[str(first["id"])]
    assert cells[1:4] == [first["severity"], first["status"], first["rule"]]
    assert rows(ui.client.get("/ui/variances?status=resolved").text, "data-variance") == {}


def test_the_operations_page_shows_connectors_runs_quarantine_and_drift(ui: Ui) -> None:
    now = utcnow()
    with Session(ui.engine) as s:
        for i, reason in enumerate(("bad_amount", "bad_amount", "unknown_project")):
            s.add(Quarantine(source="psa", stream="actuals", external_id=f"Q{i}", reason=reason,
                             payload_kind="raw", payload_hash=f"h{i}", status="open",
                             first_seen_at=now, last_seen_at=now))  # fmt: skip
        s.add(Quarantine(source="psa", stream="actuals", external_id="Q9", reason="bad_date",
                         payload_kind="raw", payload_hash="h9", status="resolved",
                         first_seen_at=now, last_seen_at=now))  # fmt: skip
        s.add(ControlTotal(source="psa", stream="actuals", project_ref="PRJ-0001", currency="USD",
                           source_count=12, ledger_count=10, source_amount=Decimal("1500.25"),
                           ledger_amount=Decimal("1000.00"), checked_at=now))  # fmt: skip
        s.commit()
    page = ui.client.get("/ui/operations").text
    cells = rows(page, "data-connector")["psa"]
    with ui.engine.connect() as conn:
        run_id, read, written = conn.execute(
            text(
                "SELECT r.id, sum(s.rows_read), sum(s.rows_written) FROM sync_run r"
                " JOIN sync_run_stream s ON s.run_id = r.id GROUP BY r.id ORDER BY r.id DESC"
            )
        ).first()  # type: ignore[misc]
        streams = conn.execute(text("SELECT count(*) FROM v_sync_health")).scalar_one()
        drift = conn.execute(
            text(
                "SELECT open_quarantine, drifted_groups, count_drift, amount_drift"
                " FROM v_sync_health WHERE connector = 'psa' AND stream = 'actuals'"
            )
        ).one()
    assert cells[:3] == ["psa", "sample", "manual"]
    assert cells[3].startswith(f"#{run_id} succeeded")
    assert (cells[6], cells[7]) == (str(read), str(written))
    row = page[page.index('<tr data-connector="psa">') :].split("</tr>", 1)[0]
    assert re.findall(r'<span class="chip">([^<]*)</span>', row) == [
        "bad_amount 2",
        "unknown_project 1",
    ]
    assert page.count("<tr><td>psa</td><td>") == streams > 0
    actuals = page[page.index("<tr><td>psa</td><td>actuals</td>") :].split("</tr>", 1)[0]
    health = rows(actuals.replace("<tr>", '<tr data-h="a">', 1) + "</tr>", "data-h")["a"]
    assert drift == (3, 1, 2, drift[3]) and Decimal(str(drift[3])) == Decimal("500.25")
    assert health[4:8] == ["3", "1", "2", "500.25"]


# --- the page logic with many projects -------------------------------------------------------


def _row(i: int, cpi: str | None, high: int = 0) -> PortfolioRow:
    evm = None if cpi is None else Evm(Decimal(100), Decimal(100), Decimal(cpi) * 10, Decimal(10))
    return PortfolioRow(
        id=i, code=f"P{i:04d}", name=f"Project {i}", portfolio_code=f"PF{i % 2}",
        portfolio_name=None, program_code=f"PG{i % 5}", program_name=None, manager=f"M{i % 3}",
        source="psa", sources=("psa",), condition=None, status=None, budget=Decimal(100),
        actual=Decimal(10), evm=evm, eac_method="cpi", variances={"high": high} if high else {},
        actuals_as_of=None,
    )  # fmt: skip


def test_250_projects_are_grouped_ordered_by_risk_and_paged() -> None:
    data = PortfolioData(
        [_row(i, None if i % 7 == 0 else ("0.5" if i % 4 == 0 else "1.2"), high=i % 3)
         for i in range(250)],
        datetime.now(UTC).date(), None, {}, None,
    )  # fmt: skip
    views.apply_rag(data, RagRules())
    first = views.portfolio_page(data, views.Filters.of({}))
    assert (first.pages, first.matched, first.page) == (3, 250, 1)
    shown = [line.project for line in first.lines if line.project is not None]
    assert len(shown) == 100
    headings = [(line.group.level, line.group.code) for line in first.lines if line.group]
    assert headings[0] == ("portfolio", shown[0].portfolio_code)
    # within a program, riskiest first
    by_group: dict[str | None, list[PortfolioRow]] = {}
    for r in shown:
        by_group.setdefault(r.program_code, []).append(r)
    for group in by_group.values():
        assert [views.risk_key(r) for r in group] == sorted(views.risk_key(r) for r in group)
    # a group's heading repeats on the next page, with the totals of the whole group
    third = views.portfolio_page(data, views.Filters.of({"page": "3"}))
    assert len([line for line in third.lines if line.project]) == 50
    assert third.lines[0].group is not None and third.lines[1].group is not None
    group = third.lines[1].group
    assert group.totals.projects == sum(
        1 for r in data.rows if (r.portfolio_code, r.program_code) ==
        (third.lines[2].project.portfolio_code, group.code)  # type: ignore[union-attr]
    )  # fmt: skip
    assert views.portfolio_page(data, views.Filters.of({"page": "99"})).page == 3
    red = views.portfolio_page(data, views.Filters.of({"rag": "red", "owner": "M1"}))
    expected = {r.code for r in data.rows if r.rag == "red" and r.manager == "M1"}
    assert {line.project.code for line in red.lines if line.project} == expected
    assert red.matched == len(expected) > 0
    by_cpi = views.portfolio_page(data, views.Filters.of({"sort": "cpi", "program": "PG1"}))
    cpis = [line.project.cpi for line in by_cpi.lines if line.project and line.project.cpi]
    assert cpis == sorted(cpis)
    assert views.Filters.of({"sort": "nonsense", "page": "x"}) == views.Filters()
    assert views.Filters.of({"rag": "red", "page": "2"}).query(page=3) == "rag=red&page=3"


def test_the_portfolio_reads_again_when_the_ledger_moves(ui: Ui) -> None:
    """The rows kept between requests follow the ledger: a variance resolved and a project
    renamed each show on the next request."""
    before = rows(ui.client.get("/ui").text, "data-project")
    with Session(ui.engine) as s:
        v = s.scalars(
            select(Variance).where(Variance.status == "open", Variance.severity == "high")
        ).first()
        assert v is not None
        code = s.scalar(select(Project.code).where(Project.id == v.project_id))
        v.status, v.resolved_at = "resolved", utcnow()
        s.commit()
    assert code is not None
    after = rows(ui.client.get("/ui").text, "data-project")
    assert int(after[code][8] or 0) == int(before[code][8]) - 1
    with Session(ui.engine) as s:
        s.execute(
            update(Project)
            .where(Project.code == code)
            .values(name="Renamed in the PSA", updated_at=utcnow())
        )
        s.commit()
    assert rows(ui.client.get("/ui").text, "data-project")[code][1] == f"{code} Renamed in the PSA"


def test_the_portfolio_reads_again_when_a_batch_under_the_last_id_commits_late(ui: Ui) -> None:
    """A batch that took ids under the last one shown commits after the rows were read (the
    last id does not move): the next request reads the rows again and shows its actual."""
    with Session(ui.engine) as s:
        top = leave_ids_free(s)
        code = s.scalars(select(Project.code).where(Project.code != "UNMAPPED")).first()
        assert code is not None
    before = rows(ui.client.get("/ui").text, "data-project")[code][4]
    with Session(ui.engine) as s:
        late = actual_record("LATE-1", "1234.56", project_ref=code, cost_type="labor",
                      posted_on=utcnow().date())  # fmt: skip
        apply_records(s, [late], source="psa", cfg=ui.app.settings, commit=False)
        s.execute(update(LedgerEntry).where(LedgerEntry.id > top).values(id=LedgerEntry.id - 40))
        s.commit()
        assert s.scalar(select(func.max(LedgerEntry.id))) == top
        ledger = {r.project_code: r.actual for r in budget_vs_actual(s)}
    after = rows(ui.client.get("/ui").text, "data-project")[code][4]
    assert after == money(ledger[code]) and after != before
