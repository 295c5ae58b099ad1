"""The dashboard of `pmo-ledger serve` (/ui) in headless chromium, over the demo's sample world
and the Workfront sandbox, synced and reconciled (tests.browser.ledger), on SQLite and on
PostgreSQL: each page's figures are the ledger's own, filters change the rows, a variance is
acknowledged, a sync is triggered and watched, a hostile name stays text, no page logs an
error, Tab reaches every control, pages read without JavaScript, and signing in sets an
HttpOnly, SameSite=Strict cookie. Screenshots of each page go to .artifacts/screenshots/."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from urllib.parse import quote

from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Project, SyncRun, SyncRunStream, Variance
from tests.browser.conftest import Watch, locked_service, new_page, screenshot
from tests.browser.ledger import HOSTILE, HOSTILE_PORTFOLIO, HOSTILE_PROJECT, TOKEN, Dashboard
from tests.browser.pages import (
    CONTROLS,
    forecast,
    grid,
    money,
    open_counts,
    projects_by,
    ratio,
    report_rows,
    row_keys,
    variance_of,
)

PORTFOLIO = "table.portfolio"
#: The slipping project (config/demo.toml [connectors.psa.planted]): a forecast_overrun.
SLIPPING = "PRJ-0005"


def sign_in(page: Page, then: str = "/ui", token: str = TOKEN) -> None:
    """Sign in through the form; with the right token, wait until the browser is at `then`."""
    page.goto(f"/ui/signin?next={quote(then, safe='')}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    if token == TOKEN:
        expect(page).to_have_url(re.compile(re.escape(then) + "$"))


def portfolio(page: Page) -> dict[str, dict[str, str]]:
    return grid(page, PORTFOLIO, "data-project")


# --- figures -------------------------------------------------------------------------------


def test_the_portfolio_shows_each_projects_figures_from_the_ledger(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    page.goto("/ui")
    rows = portfolio(page)
    report = report_rows(dashboard.engine)
    counts = open_counts(dashboard.engine)
    assert set(rows) == set(report)
    for code, expected in report.items():
        row = rows[code]
        assert (row["Budget"], row["Actual"]) == (money(expected.budget), money(expected.actual)), code
        seen = counts.get(code, Counter())
        assert (row["High"], row["Med"], row["Low"]) == tuple(
            str(seen[s]) if seen[s] else "" for s in ("high", "medium", "low")
        ), code
    # The slipping project's forecast is reconcile's (its forecast_overrun finding).
    figures = forecast(dashboard.engine, SLIPPING)
    row = rows[SLIPPING]
    assert (row["Forecast (EAC)"], row["CPI"], row["SPI"]) == (
        money(figures["eac"]), ratio(figures["cpi"]), ratio(figures["spi"])
    )  # fmt: skip
    assert row["RAG"] == "RED"
    summary = page.locator("#portfolio-results .summary")
    expect(summary).to_contain_text(f"{len(report)} projects")
    budget = sum((r.budget for r in report.values()), Decimal(0))
    expect(summary).to_contain_text(f"budget {money(budget)}")
    for connector in ("psa", "erp", "pm"):
        expect(page.locator(".asof").filter(has_text="Last successful sync")).to_contain_text(connector)
    screenshot(page, dashboard, "portfolio")
    assert watch.problems() == {}


def test_the_portfolio_is_sorted_by_risk_and_grouped_by_program(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto("/ui")
    groups = page.eval_on_selector(
        PORTFOLIO,
        """(t) => {
            const out = [];
            for (const tr of t.querySelectorAll('tbody tr')) {
                if (tr.classList.contains('group-program')) out.push([]);
                else if (tr.dataset.project) out[out.length - 1].push(
                    tr.querySelector('.rag').textContent.trim());
            }
            return out;
        }""",
    )
    programs = {p["program"] for p in projects_by(dashboard.engine).values()}
    assert len(groups) == len(programs)
    order = {"RED": 0, "AMBER": 1, "GREEN": 2, "N/A": 3}
    for group in groups:
        assert [order[g] for g in group] == sorted(order[g] for g in group), groups


def test_the_project_page_shows_its_earned_value_variances_and_identities(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    page.goto(f"/ui/projects/{SLIPPING}")
    figures = forecast(dashboard.engine, SLIPPING)
    evm = page.locator("#evm")
    expect(evm.locator("[data-figure=eac] .value")).to_have_text(money(figures["eac"]))
    expect(evm.locator("[data-figure=bac] .value")).to_have_text(money(figures["bac"]))
    expect(evm.locator("[data-figure=cpi] .value")).to_have_text(str(figures["cpi"]))
    expect(evm.locator("[data-figure=spi] .value")).to_have_text(str(figures["spi"]))
    report = report_rows(dashboard.engine)[SLIPPING]
    expect(page.locator("[data-figure=actual] .value")).to_have_text(money(report.actual))
    expect(page.locator("[data-figure=budget] .value")).to_have_text(money(report.budget))
    finding = variance_of(dashboard.engine, "forecast_overrun", SLIPPING)
    card = page.locator(f"#variance-{finding.id}")
    expect(card).to_contain_text(finding.message or "")
    with Session(dashboard.engine) as s:
        open_here = s.scalars(
            select(Variance.id).where(
                Variance.project_id == finding.project_id,
                Variance.status.in_(("open", "acknowledged")),
            )
        ).all()
    expect(page.locator("[id^=variance-]")).to_have_count(len(open_here))
    identities = page.locator("#identities tbody tr")
    sources = projects_by(dashboard.engine)[SLIPPING]["sources"]
    assert {identities.nth(i).locator("td").first.inner_text() for i in range(identities.count())} == sources
    # The S-curve and the schedule are drawn (Workfront's tasks and estimates).
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("#critical-path")).to_contain_text("Critical path:")
    screenshot(page, dashboard, "project")
    assert watch.problems() == {}


#: How many lines each element matched by a selector takes (its text's line boxes), and whether
#: the element's right edge lies inside the window.
LINES = """sel => [...document.querySelectorAll(sel)].map(el => {
  const r = document.createRange(); r.selectNodeContents(el);
  const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
  return [el.textContent.trim(), tops.size, el.getBoundingClientRect().right <= window.innerWidth];
})"""


def test_periods_and_buttons_do_not_wrap_and_the_tables_fit_at_1280px(
    context: BrowserContext, dashboard: Dashboard, watch: Watch
) -> None:
    page = new_page(context, watch)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "/ui/operations")
    buttons = page.evaluate(LINES, "#connectors button")
    assert buttons and all(b == ["Sync now", 1, True] for b in buttons), buttons
    page.goto("/ui/variances")
    periods = page.evaluate(LINES, "#variance-results td.period, table.grid td.period")
    assert periods and all(n == 1 for _, n, _ in periods), periods
    assert {"to date"} < {text for text, _, _ in periods}
    page.goto(f"/ui/projects/{SLIPPING}")
    page.locator("#periods").evaluate("t => t.closest('details').open = true")
    periods = page.evaluate(LINES, "#periods td.period")
    assert periods and all(n == 1 for _, n, _ in periods), periods
    # The sync-health table is as wide as the page, with no column cut off.
    fits = page.locator("#health").evaluate(
        "t => [t.parentElement.scrollWidth <= t.parentElement.clientWidth,"
        " t.getBoundingClientRect().width > window.innerWidth * 0.8]"
    )
    assert fits == [True, True]
    assert watch.problems() == {}


def test_variances_page_lists_the_open_findings_and_filters_them(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    with Session(dashboard.engine) as s:
        found = s.execute(select(Variance.id, Variance.severity, Variance.status)).all()
    open_ids = {str(v.id) for v in found if v.status in ("open", "acknowledged")}
    high = {str(v.id) for v in found if str(v.id) in open_ids and v.severity == "high"}
    assert len(high) == 5  # the four planted in the sample world, Workfront's contractor
    page.goto("/ui/variances")
    assert set(row_keys(page, "#variances", "data-variance")) == open_ids
    page.locator("select[name=severity]").select_option("high")
    expect(page).to_have_url(re.compile(r"severity=high"))
    expect(page.locator("#variances tbody tr[data-variance]")).to_have_count(len(high))
    assert set(row_keys(page, "#variances", "data-variance")) == high
    expect(page.locator("#variance-results .summary")).to_contain_text(f"{len(high)} variances")
    screenshot(page, dashboard, "variances")
    # Any severity, one project (Enter in the field submits).
    with Session(dashboard.engine) as s:
        on_0004 = {
            str(i)
            for i in s.scalars(
                select(Variance.id)
                .join(Project, Project.id == Variance.project_id)
                .where(Project.code == "PRJ-0004", Variance.status.in_(("open", "acknowledged")))
            )
        }
    assert len(on_0004) >= 2
    page.locator("select[name=severity]").select_option("")
    page.locator("input[name=project]").fill("PRJ-0004")
    page.locator("input[name=project]").press("Enter")
    expect(page).to_have_url(re.compile(r"project=PRJ-0004"))
    expect(page.locator("#variances tbody tr[data-variance]")).to_have_count(len(on_0004))
    assert set(row_keys(page, "#variances", "data-variance")) == on_0004
    assert watch.problems() == {}


# --- filters -------------------------------------------------------------------------------


def _filtered(page: Page, name: str, value: str, expected: set[str]) -> None:
    page.goto("/ui")
    page.locator(f"select[name={name}]").select_option(value)
    expect(page).to_have_url(re.compile(rf"[?&]{name}="))
    expect(page.locator(f"{PORTFOLIO} tbody tr[data-project]")).to_have_count(len(expected))
    assert set(portfolio(page)) == expected


def test_portfolio_filters_change_the_rows(page: Page, dashboard: Dashboard, watch: Watch) -> None:
    projects = projects_by(dashboard.engine)
    program = sorted({p["program"] for p in projects.values()})[0]
    _filtered(page, "program", program, {c for c, p in projects.items() if p["program"] == program})
    owner = projects[SLIPPING]["manager"]
    _filtered(page, "owner", owner, {c for c, p in projects.items() if p["manager"] == owner})
    _filtered(page, "source", "pm", {c for c, p in projects.items() if "pm" in p["sources"]})
    page.goto("/ui")
    red = {c for c, row in portfolio(page).items() if row["RAG"] == "RED"}
    assert SLIPPING in red and len(red) < len(projects)
    _filtered(page, "rag", "red", red)
    page.locator("input[name=q]").fill(SLIPPING)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(f"{PORTFOLIO} tbody tr[data-project]")).to_have_count(1)
    assert list(portfolio(page)) == [SLIPPING]
    assert watch.problems() == {}


# --- writes --------------------------------------------------------------------------------


def test_acknowledging_a_variance_changes_its_status_and_history(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    finding = variance_of(dashboard.engine, "hours_overrun", "psa/RES-0009")
    assert finding.status == "open"
    url = f"/ui/variances/{finding.id}"
    page.goto(url)
    expect(page.locator("#status")).to_have_text("open")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)  # not signed in
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"{url}$"))
    note = "RES-0009 covers the PMO's own hours this year: agreed with finance"
    page.get_by_label("Note").fill(note)
    page.get_by_label("By").fill("Ana PMO")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#status")).to_have_text("acknowledged")
    expect(page.get_by_role("status")).to_have_text("Acknowledged.")
    event = page.locator("#history li[data-event=acknowledged]")
    expect(event).to_have_count(1)  # one variance_event row, dated, with the state it left
    expect(event).to_contain_text(f"({finding.severity}, acknowledged) by Ana PMO")
    expect(event).to_contain_text(note)
    expect(page.locator("#history li").first).to_contain_text("opened")
    after = variance_of(dashboard.engine, "hours_overrun", "psa/RES-0009")
    assert (after.status, after.note, after.acknowledged_by) == ("acknowledged", note, "Ana PMO")
    page.goto("/ui/variances?severity=high")
    row = grid(page, "#variances", "data-variance")[str(finding.id)]
    assert row["Status"] == "acknowledged"
    page.goto(url)
    screenshot(page, dashboard, "variance", full_page=False)
    assert watch.problems() == {}


def test_a_form_without_the_sessions_csrf_token_writes_nothing(
    page: Page, dashboard: Dashboard
) -> None:
    finding = variance_of(dashboard.engine, "budget_overrun", "PRJ-0004", "")
    sign_in(page, f"/ui/variances/{finding.id}")
    # Every form of the page carries it (sign out too): all forged.
    page.eval_on_selector_all("input[name=csrf]", "(els) => els.forEach((el) => { el.value = 'forged'; })")
    page.get_by_label("Note").fill("forged")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("main")).to_contain_text("CSRF")
    assert variance_of(dashboard.engine, "budget_overrun", "PRJ-0004", "").status == finding.status


def test_the_trigger_starts_a_run_and_shows_it_live(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    sign_in(page, "/ui/operations")
    expect(page).to_have_url(re.compile(r"/ui/operations$"))
    row = page.locator("#connectors tr[data-connector=slow]")
    expect(row).to_contain_text("never ran")
    screenshot(page, dashboard, "operations")
    row.get_by_role("button", name="Sync now").click()
    expect(page).to_have_url(re.compile(r"/ui/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    # The page follows the run by itself: running, then done, without a reload.
    expect(page.locator("#run-status")).to_have_text("running")
    expect(page.locator("#streams tbody tr").first).not_to_contain_text("Starting")
    screenshot(page, dashboard, "run")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
    with Session(dashboard.engine) as s:
        run = s.get(SyncRun, run_id)
        assert run is not None
        assert (run.connector, run.trigger, run.status) == ("slow", "ui", "succeeded")
        streams = {
            st.stream: (str(st.rows_read), str(st.rows_written), str(st.rows_unchanged))
            for st in s.scalars(select(SyncRunStream).where(SyncRunStream.run_id == run_id))
        }
    assert streams["actuals"][0] == "60"  # [connectors.slow] actuals
    shown = page.eval_on_selector_all(
        "#streams tbody tr",
        "(trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim()))",
    )
    assert {r[0]: (r[2], r[3], r[4]) for r in shown} == streams
    page.goto("/ui/operations")
    expect(row).to_contain_text(f"#{run_id}")
    expect(row).to_contain_text("succeeded")
    cells = grid(page, "#connectors", "data-connector")["slow"]
    assert cells["Rows read"] == str(sum(int(r[0]) for r in streams.values()))
    assert watch.problems() == {}


# --- safety --------------------------------------------------------------------------------


def test_a_hostile_name_shows_as_text_and_runs_nothing(
    page: Page, dashboard: Dashboard, watch: Watch
) -> None:
    for url in ("/ui", f"/ui/projects/{HOSTILE_PROJECT}", "/ui/variances", "/ui/operations"):
        page.goto(url)
        scripts = page.eval_on_selector_all(
            "script", "(els) => els.map((e) => e.src || e.textContent)"
        )
        assert all(s.endswith("/ui/static/htmx.min.js") for s in scripts), (url, scripts)
        assert page.locator("img").count() == 0, url
    page.goto("/ui")
    expect(page.locator(f"{PORTFOLIO} tr[data-project={HOSTILE_PROJECT}] .pname")).to_have_text(HOSTILE)
    expect(page.locator(PORTFOLIO)).to_contain_text(HOSTILE_PORTFOLIO)
    page.goto(f"/ui/projects/{HOSTILE_PROJECT}")
    expect(page.locator("h1 .pname")).to_have_text(HOSTILE)
    assert HOSTILE in page.title() or HOSTILE_PROJECT in page.title()
    screenshot(page, dashboard, "hostile")
    assert watch.dialogs == []
    assert watch.problems() == {}


def test_an_unknown_project_is_a_page_that_says_so(page: Page, dashboard: Dashboard) -> None:
    response = page.goto("/ui/projects/PRJ-9999")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("There is no project 'PRJ-9999' in the ledger.")
    expect(page.get_by_role("link", name="Portfolio")).to_be_visible()


def test_pages_set_the_security_headers(page: Page, dashboard: Dashboard) -> None:
    response = page.goto("/ui")
    assert response is not None
    headers = response.headers
    csp = headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src")))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


# --- every page: errors, keyboard, without JavaScript --------------------------------------


def _pages(dashboard: Dashboard) -> dict[str, str]:
    finding = variance_of(dashboard.engine, "forecast_overrun", SLIPPING)
    with Session(dashboard.engine) as s:
        run = s.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1))
    return {
        "portfolio": "/ui",
        "project": f"/ui/projects/{SLIPPING}",
        "variances": "/ui/variances",
        "variance": f"/ui/variances/{finding.id}",
        "operations": "/ui/operations",
        "run": f"/ui/runs/{run}",
        "signin": "/ui/signin",
    }


def test_no_page_logs_an_error_or_fails_a_request(
    context: BrowserContext, dashboard: Dashboard, watch: Watch
) -> None:
    """Each page, signed out then in: the watch names the page of any problem (its URL)."""
    page = new_page(context, watch)
    for signed_in in (False, True):
        if signed_in:
            sign_in(page)
        for url in _pages(dashboard).values():
            page.goto(url)
    page.wait_for_load_state("networkidle")
    assert watch.problems() == {}


def _tab_through(page: Page) -> tuple[set[str], set[str]]:
    """Every visible control of the page (numbered) and those Tab reached, from the top."""
    controls: list[str] = page.eval_on_selector_all(
        CONTROLS,
        """(els) => {
            window.kbdReached = [];
            document.addEventListener('focusin', (e) => window.kbdReached.push(e.target.dataset.kbd));
            return els.filter((e) => e.checkVisibility() && !e.disabled).map((e, i) => {
                e.dataset.kbd = String(i);
                return String(i);
            });
        }""",
    )
    page.locator("body").focus()
    for _ in range(len(controls) + 3):
        page.keyboard.press("Tab")
    reached: list[str | None] = page.evaluate("() => window.kbdReached")
    return set(controls), {r for r in reached if r is not None}


def test_tab_reaches_every_control_of_every_page(
    context: BrowserContext, dashboard: Dashboard, watch: Watch
) -> None:
    page = new_page(context, watch)
    sign_in(page)
    for name, url in _pages(dashboard).items():
        page.goto(url)
        controls, reached = _tab_through(page)
        assert controls, name
        missed = controls - reached
        assert not missed, (name, page.eval_on_selector_all(
            "[data-kbd]", f"(els) => els.filter((e) => {sorted(missed)!r}.includes(e.dataset.kbd)).map((e) => e.outerHTML.slice(0, 120))"
        ))  # fmt: skip


def test_pages_read_without_javascript(browser: Browser, dashboard: Dashboard) -> None:
    context = browser.new_context(base_url=dashboard.url, java_script_enabled=False)
    try:
        page = context.new_page()
        report = report_rows(dashboard.engine)
        page.goto("/ui")
        cells = page.locator(f"{PORTFOLIO} tbody tr[data-project]")
        expect(cells).to_have_count(len(report))
        slipping = page.locator(f"{PORTFOLIO} tr[data-project={SLIPPING}]")
        expect(slipping).to_contain_text(money(report[SLIPPING].actual))
        # A filter is a plain GET form.
        page.locator("select[name=rag]").select_option("red")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"rag=red"))
        expect(slipping).to_be_visible()
        expect(page.locator(f"{PORTFOLIO} tbody tr[data-project]")).not_to_have_count(len(report))
        screenshot(page, dashboard, "portfolio-nojs")
        for name, url in _pages(dashboard).items():
            page.goto(url)
            expect(page.locator("main h1")).to_be_visible()
            if name == "project":
                expect(page.locator("#evm [data-figure=eac] .value")).to_have_text(
                    money(forecast(dashboard.engine, SLIPPING)["eac"])
                )
        page.goto("/ui/variances?severity=high")
        expect(page.locator("#variances tbody tr[data-variance]")).to_have_count(5)
        screenshot(page, dashboard, "variances-nojs")
    finally:
        context.close()


def test_signing_in_sets_an_httponly_samesite_strict_cookie(
    context: BrowserContext, page: Page, dashboard: Dashboard
) -> None:
    sign_in(page, token="not-the-token")
    expect(page.get_by_role("alert")).to_have_text("That is not the API token.")
    assert context.cookies() == []
    screenshot(page, dashboard, "signin")
    sign_in(page, "/ui/variances")
    expect(page).to_have_url(re.compile(r"/ui/variances$"))
    cookies = context.cookies()
    assert len(cookies) == 1
    cookie = cookies[0]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    assert TOKEN not in cookie["value"]
    assert page.evaluate("() => document.cookie") == ""  # HttpOnly: scripts cannot read it
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert context.cookies() == []


def test_with_read_requires_token_a_browser_signs_in_before_it_reads(
    browser: Browser, dashboard: Dashboard
) -> None:
    eac = money(forecast(dashboard.engine, SLIPPING)["eac"])
    with locked_service(dashboard) as url:
        context = browser.new_context(base_url=url)
        try:
            page = context.new_page()
            page.goto(f"/ui/projects/{SLIPPING}")
            expect(page).to_have_url(re.compile(r"/ui/signin\?next="))
            expect(page.locator("main")).not_to_contain_text(eac)
            page.get_by_label("API token").fill(TOKEN)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(re.compile(rf"/ui/projects/{SLIPPING}$"))
            expect(page.locator("#evm [data-figure=eac] .value")).to_have_text(eac)
            # The cookie is the dashboard's: the JSON API still wants the bearer token.
            answer = page.request.get("/variances")
            assert answer.status == 401
        finally:
            context.close()
