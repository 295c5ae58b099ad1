"""The dashboard's pages under `/ui` (see the package docstring): handlers read through
`pmo_ledger.ledger.queries.dashboard` and render Jinja2 templates (autoescaped)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.jobs.service.gate import UI_PREFIX, WRITES_OFF
from pmo_ledger.jobs.service.ui import views
from pmo_ledger.jobs.service.ui.charts import gantt, scurve
from pmo_ledger.jobs.service.ui.headers import SecurityHeaders
from pmo_ledger.jobs.service.ui.session import COOKIE, SESSION_MAX_AGE, Session, Sessions
from pmo_ledger.jobs.service.worker import ServiceStopping, Worker
from pmo_ledger.jobs.sync import AlreadyRunning, ConnectorDisabled
from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries import dashboard, runs, variances
from pmo_ledger.ledger.rag import consumption, rag
from pmo_ledger.ledger.reconcile.store import acknowledge

HERE = Path(__file__).resolve().parent
#: Variances per page of the variances page.
VARIANCE_PAGE = 50
SEVERITIES = ("high", "medium", "low")
STATUSES = ("open", "acknowledged", "resolved")
#: Longest acknowledgement note accepted.
MAX_NOTE = 2000


@dataclass(frozen=True)
class Viewer:
    """Who is looking: signed in (a session cookie or the bearer token) or not, and whether
    the service has writes on at all."""

    session: Session | None
    bearer: bool
    writes_on: bool

    @property
    def can_write(self) -> bool:
        return self.writes_on and (self.session is not None or self.bearer)


class UiError(Exception):
    """A page that cannot be shown: its status and a sentence for the person."""

    def __init__(self, status: int, message: str, heading: str = "", back: str = "") -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.heading = heading or {
            400: "Bad request", 401: "Sign in first", 403: "Not allowed", 404: "Not found",
            409: "Conflict", 503: "Unavailable",
        }.get(status, "Error")  # fmt: skip
        self.back = back


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=views.money, ratio=views.ratio, when=views.when, safe_url=views.safe_url,
        counted=views.counted, count_of=views.count_of,
    )
    return env


def mount(
    api: FastAPI,
    worker: Worker,
    sessions: Sessions,
    version: str,
) -> None:
    """Add the dashboard's routes, static files and security headers to `api`."""
    app = worker.app
    cfg = app.config.service
    env = _environment()
    api.add_middleware(SecurityHeaders, prefix=UI_PREFIX)
    api.mount(f"{UI_PREFIX}/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    def viewer(request: Request) -> Viewer:
        session = sessions.load(request.cookies.get(COOKIE))
        bearer = sessions.bearer_ok(request.headers.get("authorization", ""))
        return Viewer(session, bearer, sessions.enabled)

    def reader(request: Request) -> Viewer:
        """The viewer, when it may read (the gate's rule, checked again)."""
        v = viewer(request)
        if cfg.read_requires_token and v.session is None and not v.bearer:
            raise UiError(401, "Reading this dashboard needs the API token: sign in.",
                          back=f"/ui/signin?next={quote(_here(request), safe='')}")  # fmt: skip
        return v

    def writer(request: Request, form: dict[str, str]) -> Viewer:
        """The viewer, when it may write: the token configured, signed in, and the form's
        CSRF token that of its session (a bearer token needs none: no browser sends one
        by itself)."""
        v = viewer(request)
        if not v.writes_on:
            raise UiError(403, WRITES_OFF)
        if v.bearer:
            return v
        if v.session is None:
            raise UiError(401, "Writing needs the API token: sign in first.", back="/ui/signin")
        if not Sessions.csrf_ok(v.session, form.get("csrf")):
            raise UiError(403, "The form's CSRF token is missing or out of date: reload the "
                          "page and try again.")  # fmt: skip
        return v

    def render(
        request: Request, template: str, v: Viewer, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = env.get_template(template).render(
            viewer=v,
            request_path=_here(request),
            base_currency=app.settings.base_currency,
            version=version,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"Vary": "HX-Request, Cookie"})

    @api.exception_handler(UiError)
    async def _ui_error(request: Request, exc: UiError) -> HTMLResponse:
        return render(
            request, "error.html", viewer(request), exc.status,
            code=exc.status, heading=exc.heading, message=exc.message, back=exc.back,
        )  # fmt: skip

    async def form_of(request: Request) -> dict[str, str]:
        """An urlencoded form body (the gate capped its size): the first value per name."""
        body = (await request.body()).decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def partial(request: Request, target: str) -> bool:
        return (
            request.headers.get("hx-request") == "true"
            and request.headers.get("hx-history-restore-request") != "true"
            and request.headers.get("hx-target") == target
        )

    # --- sign in and out -------------------------------------------------------------------

    @api.get(f"{UI_PREFIX}/signin", include_in_schema=False)
    def signin_form(request: Request, next: str = "/ui") -> HTMLResponse:
        return render(request, "signin.html", viewer(request), next=_local(next),
                      hours=SESSION_MAX_AGE // 3600, error=None, page="signin")  # fmt: skip

    @api.post(f"{UI_PREFIX}/signin", include_in_schema=False)
    async def signin(request: Request) -> Response:
        form = await form_of(request)
        target = _local(form.get("next", "/ui"))
        if not sessions.enabled:
            raise UiError(403, WRITES_OFF)
        if not sessions.token_ok(form.get("token", "")):
            return render(request, "signin.html", viewer(request), 401, next=target,
                          hours=SESSION_MAX_AGE // 3600, error="That is not the API token.",
                          page="signin")  # fmt: skip
        value, _ = sessions.issue()
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            COOKIE, value, max_age=SESSION_MAX_AGE, path=UI_PREFIX, httponly=True,
            samesite="strict", secure=request.url.scheme == "https",
        )  # fmt: skip
        return answer

    @api.post(f"{UI_PREFIX}/signout", include_in_schema=False)
    async def signout(request: Request) -> Response:
        writer(request, await form_of(request))
        answer = RedirectResponse("/ui", status_code=303)
        answer.delete_cookie(COOKIE, path=UI_PREFIX, httponly=True, samesite="strict")
        return answer

    # --- portfolio -------------------------------------------------------------------------

    cached: dict[tuple[Any, ...], dashboard.PortfolioData] = {}
    reading_rows = threading.Lock()

    def portfolio_rows() -> dashboard.PortfolioData:
        """Every project's row with its RAG, read again only when the ledger moved: the
        markers of `portfolio_version` and the status date key the last rows read (one entry;
        the markers cost a fraction of the seven queries over 2,000 projects). One reader at
        a time: a request that finds the rows being read waits for them."""
        day = _today()
        with app.reading() as s:
            version = dashboard.portfolio_version(s)
        key = (day, *version)
        with reading_rows:
            found = cached.get(key)
            if found is None:
                with app.reading() as s:
                    found = dashboard.portfolio(s, app.settings, app.config.reconcile, day, version)
                views.apply_rag(found, app.config.report.rag)
                cached.clear()
                cached[key] = found
            return found

    api.state.ui_portfolio_rows = portfolio_rows  # for `serve`'s warmer (jobs.service.ui.warm)

    @api.get(UI_PREFIX, include_in_schema=False)
    def portfolio_page(request: Request) -> HTMLResponse:
        v = reader(request)
        filters = views.Filters.of(request.query_params)
        data = portfolio_rows()
        view = views.portfolio_page(data, filters)
        template = (
            "_portfolio_results.html" if partial(request, "portfolio-results") else "portfolio.html"
        )
        return render(request, template, v, page="portfolio", data=data, view=view,
                      filters=filters, sorts=views.SORTS)  # fmt: skip

    # --- one project -----------------------------------------------------------------------

    @api.get(UI_PREFIX + "/projects/{code:path}", include_in_schema=False)
    def project_page(request: Request, code: str) -> HTMLResponse:
        v = reader(request)
        day = _today()
        rules = app.config.reconcile
        with app.reading() as s:
            head = dashboard.project_head(s, code)
            if head is None:
                raise UiError(404, f"There is no project {code!r} in the ledger.")
            figures, methods, period = dashboard.evm_at(s, app.settings, rules, day, head.id)
            evm = figures.get(head.id)
            method = methods.get(head.id, rules.rule("forecast_overrun").eac)
            budget = dashboard.current_budgets(s, head.id).get(head.id)
            actual = dashboard.project_actual(s, head.id)
            periods = dashboard.by_period(s, head.id)
            curve, curve_note = _curve(s, app, head.code, day)
            plan, plan_note = _plan(s, app, head.code, day)
            found = dashboard.open_variances(s, head.id)
            lines = dashboard.variance_lines(s, [f.id for f in found], head.id, limit=50)
            ids = dashboard.identities(s, head.id)
            sources = sorted({i.source for i in ids} | ({head.source} if head.source else set()))
            health = dashboard.sync_health(s, sources)
        status = rag(
            app.config.report.rag,
            cpi=None if evm is None else evm.cpi,
            spi=None if evm is None else evm.spi,
            consumed=None if budget is None else consumption(actual, budget),
        )
        return render(
            request, "project.html", v, page="project", head=head, kpis=_kpis(evm, method),
            method=method, period=period, **_pert(plan),
            status_date=day, budget=budget, actual=actual, periods=periods,
            curve=None if curve is None else scurve(curve), curve_note=curve_note,
            plan=plan, gantt=None if plan is None else gantt(plan.schedule),
            plan_note=plan_note, variances=found, lines=lines, identities=ids,
            health=health, rag=status,
        )  # fmt: skip

    # --- variances -------------------------------------------------------------------------

    @api.get(UI_PREFIX + "/variances", include_in_schema=False)
    def variances_page(request: Request) -> HTMLResponse:
        v = reader(request)
        q = request.query_params
        status = q.get("status", "open")
        status = status if status in (*STATUSES, "all") else "open"
        severity = q.get("severity") if q.get("severity") in SEVERITIES else None
        rule = (q.get("rule") or "")[:40] or None
        project = (q.get("project") or "").strip()[:255] or None
        try:
            page = max(1, min(int(q.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        with app.reading() as s:
            found = variances.list_variances(
                s,
                status=status if status in ("acknowledged", "resolved") else None,
                open_only=status == "open",
                project=project,
                rule=rule,
                severity=severity,
                limit=VARIANCE_PAGE,
                offset=(page - 1) * VARIANCE_PAGE,
            )
            rules = dashboard.variance_rules(s)
        pages = max(1, -(-found.total // VARIANCE_PAGE))
        params = {"status": status, "severity": severity or "", "rule": rule or "",
                  "project": project or ""}  # fmt: skip
        template = (
            "_variance_results.html" if partial(request, "variance-results") else "variances.html"
        )
        return render(request, template, v, page="variances", found=found, rules=rules,
                      params=params, current=page, pages=pages, severities=SEVERITIES,
                      statuses=STATUSES)  # fmt: skip

    @api.get(UI_PREFIX + "/variances/{variance_id}", include_in_schema=False)
    def variance_page(request: Request, variance_id: int) -> HTMLResponse:
        v = reader(request)
        with app.reading() as s:
            detail = dashboard.variance_detail(s, variance_id)
        if detail is None:
            raise UiError(404, f"There is no variance {variance_id}.", back="/ui/variances")
        return render(request, "variance.html", v, page="variances", v_=detail,
                      max_note=MAX_NOTE, done=request.query_params.get("done"))  # fmt: skip

    @api.post(UI_PREFIX + "/variances/{variance_id}/ack", include_in_schema=False)
    async def variance_ack(request: Request, variance_id: int) -> Response:
        form = await form_of(request)
        writer(request, form)
        note = " ".join(form.get("note", "").split())
        back = f"/ui/variances/{variance_id}"
        if not note or "\x00" in note or len(note) > MAX_NOTE:
            raise UiError(400, f"A note of 1 to {MAX_NOTE} characters is needed.", back=back)
        by = " ".join(form.get("by", "").split())[:255] or "dashboard"

        def ack() -> None:
            with app.transaction() as s:
                acknowledge(s, variance_id, note, by, utcnow())

        try:
            await run_in_threadpool(ack)
        except LookupError:
            raise UiError(
                404, f"There is no variance {variance_id}.", back="/ui/variances"
            ) from None
        except ValueError as exc:
            raise UiError(409, str(exc), back=back) from None
        return RedirectResponse(f"{back}?done=acknowledged", status_code=303)

    # --- operations ------------------------------------------------------------------------

    @api.get(UI_PREFIX + "/operations", include_in_schema=False)
    def operations_page(request: Request) -> HTMLResponse:
        v = reader(request)
        with app.reading() as s:
            last = dashboard.last_runs(s)
            quarantine = dashboard.open_quarantine_by_reason(s)
            health = dashboard.sync_health(s)
        connectors = [
            {
                "name": name,
                "kind": c.kind,
                "enabled": c.enabled,
                "schedule": c.schedule,
                "last": last.get(name),
                "quarantine": quarantine.get(name, {}),
                "running": name in running_names(),
            }
            for name, c in sorted(app.config.connectors.items())
        ]
        return render(request, "operations.html", v, page="operations", connectors=connectors,
                      health=health, reconcile=app.config.reconcile)  # fmt: skip

    def running_names() -> set[str]:
        with app.reading() as s:
            return {r.connector for r in runs.list_runs(s, status="running", limit=500)}

    @api.post(UI_PREFIX + "/operations/{connector}/sync", include_in_schema=False)
    async def trigger(request: Request, connector: str) -> Response:
        form = await form_of(request)
        writer(request, form)
        if connector not in app.config.connectors:
            raise UiError(404, f"No connector {connector!r} is configured.", back="/ui/operations")
        full = form.get("full") == "1"

        def start() -> int:
            app.require_head()
            started = worker.start(connector, full=full, since=None, trigger="ui")
            worker.submit(started)
            return started.run_id

        try:
            run_id = await run_in_threadpool(start)
        except AlreadyRunning as exc:
            if exc.run_id is not None:
                return RedirectResponse(f"/ui/runs/{exc.run_id}?already=1", status_code=303)
            raise UiError(409, str(exc), back="/ui/operations") from None
        except ConnectorDisabled as exc:
            raise UiError(409, str(exc), back="/ui/operations") from None
        except ServiceStopping as exc:
            raise UiError(503, str(exc), back="/ui/operations") from None
        except ConnectorConfigError as exc:
            raise UiError(400, str(exc), back="/ui/operations") from None
        return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)

    def run_context(run_id: int) -> dict[str, Any]:
        with app.reading() as s:
            run = runs.run_with_streams(s, run_id)
        if run is None:
            raise UiError(404, f"There is no run {run_id}.", back="/ui/operations")
        return {"run": run, "running": run.status == "running", "now": datetime.now(UTC)}

    @api.get(UI_PREFIX + "/runs/{run_id}", include_in_schema=False)
    def run_page(request: Request, run_id: int) -> HTMLResponse:
        v = reader(request)
        already = request.query_params.get("already")
        return render(request, "run.html", v, page="operations", already=already,
                      **run_context(run_id))  # fmt: skip

    @api.get(UI_PREFIX + "/runs/{run_id}/progress", include_in_schema=False)
    def run_progress(request: Request, run_id: int) -> HTMLResponse:
        v = reader(request)
        return render(request, "_run_progress.html", v, **run_context(run_id))


def _today() -> Any:
    return datetime.now(UTC).date()


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _local(target: str) -> str:
    """A redirect target inside the dashboard (never another site: `//host`, `/\\host`)."""
    target = target.strip()
    if target == UI_PREFIX or (
        target.startswith(UI_PREFIX + "/") or target.startswith(UI_PREFIX + "?")
    ):
        if "\\" not in target and "//" not in target and "\n" not in target and "\r" not in target:
            return target
    return UI_PREFIX


def _kpis(evm: Evm | None, method: str) -> list[tuple[str, str, str]]:
    """The EVM figures as shown: money to the cent, ratios to 4 places (as `ledger.evm`)."""
    if evm is None:
        return []
    ratios = evm.rounded(method)
    money = {
        "bac": evm.bac, "pv": evm.pv, "ev": evm.ev, "ac": evm.ac, "cv": evm.cv, "sv": evm.sv,
        "eac": evm.eac(method), "etc": evm.etc(method), "vac": evm.vac(method),
    }  # fmt: skip
    labels = (("bac", "BAC"), ("pv", "PV"), ("ev", "EV"), ("ac", "AC"), ("cv", "CV"),
              ("sv", "SV"), ("cpi", "CPI"), ("spi", "SPI"), ("eac", "EAC"), ("etc", "ETC"),
              ("vac", "VAC"), ("tcpi", "TCPI"))  # fmt: skip
    return [
        (key, label, views.money(money[key]) if key in money else (ratios[key] or ""))
        for key, label in labels
    ]


def _pert(plan: Any) -> dict[str, Any]:
    """The PERT mean and sd as `plan` prints them, and the critical path."""
    if plan is None:
        return {"pert_mean": "", "pert_sd": "", "critical_path": ""}
    from pmo_ledger.ledger.planning.pert import four

    sched = plan.schedule
    paths = sched.critical_paths
    path = " → ".join(sched.network.label(k) for k in paths[0]) if paths else "none"
    if sched.critical_path_count > 1:
        path += f" (one of {sched.critical_path_count})"
    return {"pert_mean": str(four(plan.pert.mean)), "pert_sd": str(four(plan.pert.sd)),
            "critical_path": path}  # fmt: skip


def _curve(session: Any, app: Any, code: str, day: Any) -> tuple[Any, str | None]:
    """The S-curve's data, or None and why not."""
    from pmo_ledger.ledger.queries.planning import earned_value_curve, plan_project

    try:
        project = plan_project(session, code)
        return earned_value_curve(session, app.settings, app.config.reconcile, project, day), None
    except LookupError as exc:
        return None, str(exc)


def _plan(session: Any, app: Any, code: str, day: Any) -> tuple[Any, str | None]:
    """The schedule (CPM) and PERT figures of the project's tasks, or None and why not."""
    from pmo_ledger.jobs.cli.plan import build_plan
    from pmo_ledger.ledger.planning.model import PlanningError

    try:
        return build_plan(app, session, [code], day), None
    except (LookupError, PlanningError) as exc:
        return None, str(exc)


__all__ = ["mount"]
