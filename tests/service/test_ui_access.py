"""The dashboard's access and safety (both engines): the API's token rules through the gate and
the handlers (reads open or behind the token, writes need it), sign-in's session cookie and its
flags, CSRF on every write, acknowledging with history, triggering a sync and its progress,
security headers with a CSP that needs no inline script or style, a hostile project name and
source link shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from pmo_ledger.jobs.service.ui.session import COOKIE
from pmo_ledger.ledger.models import (
    Project,
    SyncRun,
    SyncRunStream,
    Variance,
    VarianceEvent,
    utcnow,
)
from tests.service.helpers import finished, wait_for
from tests.service.test_ui_pages import TOKEN, Ui, build, load, loaded, rows


@pytest.fixture
def ui(engine: Engine, tmp_path: Path) -> Iterator[Ui]:
    with loaded(engine, tmp_path) as built:
        yield built


def _variance(engine: Engine, status: str = "open") -> int:
    with Session(engine) as s:
        found = s.scalar(select(Variance.id).where(Variance.status == status).order_by(Variance.id))
    assert found is not None
    return found


def _status(engine: Engine, variance_id: int) -> tuple[str, str | None, str | None]:
    with Session(engine) as s:
        v = s.get(Variance, variance_id)
        assert v is not None
        return v.status, v.note, v.acknowledged_by


# --- sign-in and the session cookie ----------------------------------------------------------


def test_sign_in_sets_an_httponly_strict_cookie_and_a_wrong_token_none(ui: Ui) -> None:
    form = ui.client.get("/ui/signin?next=/ui/variances")
    assert form.status_code == 200 and 'name="token" type="password"' in form.text
    wrong = ui.client.post("/ui/signin", data={"token": "nope", "next": "/ui"},
                           follow_redirects=False)  # fmt: skip
    assert wrong.status_code == 401 and "That is not the API token." in wrong.text
    assert "set-cookie" not in wrong.headers
    right = ui.client.post("/ui/signin", data={"token": TOKEN, "next": "/ui/variances"},
                           follow_redirects=False)  # fmt: skip
    assert (right.status_code, right.headers["location"]) == (303, "/ui/variances")
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags and flags["samesite"].lower() == "samesite=strict"
    assert flags["path"] == "Path=/ui" and flags["max-age"] == "Max-Age=43200"
    assert TOKEN not in cookie  # the cookie holds no token
    assert "secure" not in flags  # plain HTTP here; set over HTTPS


def test_sign_in_never_redirects_to_another_site(ui: Ui) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "/ui//x",
                   "/uix", "javascript:alert(1)"):  # fmt: skip
        answer = ui.client.post("/ui/signin", data={"token": TOKEN, "next": target},
                                follow_redirects=False)  # fmt: skip
        assert answer.headers["location"] == "/ui", target


def test_reads_behind_the_token_go_to_sign_in_and_pass_with_the_cookie(
    engine: Engine, tmp_path: Path
) -> None:
    built = build(engine, tmp_path, service=f'api_token = "{TOKEN}"\nread_requires_token = true')
    load(built)
    client = built.client
    for path in ("/ui", "/ui/variances", "/ui/operations", "/ui/projects/PRJ-0001",
                 "/ui/runs/1", "/ui/runs/1/progress", "/ui/variances/1"):  # fmt: skip
        answer = client.get(path + "?x=1", follow_redirects=False)
        assert answer.status_code == 303, path
        assert (
            answer.headers["location"] == "/ui/signin?next=" + path.replace("/", "%2F") + "%3Fx%3D1"
        )
        assert answer.headers["x-frame-options"] == "DENY"
    # the sign-in form and the static files stay open
    assert client.get("/ui/signin").status_code == 200
    assert client.get("/ui/static/app.css").status_code == 200
    assert client.get("/ui/static/htmx.min.js").status_code == 200
    forged = client.get("/ui", headers={"Cookie": f"{COOKIE}=eyJjc3JmIjoieCJ9.forged.sig"},
                        follow_redirects=False)  # fmt: skip
    assert forged.status_code == 303
    assert client.get("/ui", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/ui", headers={"Authorization": "Bearer wrong"},
                      follow_redirects=False).status_code == 303  # fmt: skip
    client.post("/ui/signin", data={"token": TOKEN, "next": "/ui"}, follow_redirects=False)
    page = client.get("/ui")
    assert page.status_code == 200 and len(rows(page.text, "data-project")) == 12
    # the cookie is the dashboard's alone: the API still wants the bearer token
    assert client.get("/runs").status_code == 401
    built.worker.stop(5)


def test_without_a_token_reads_are_open_and_writes_are_off(engine: Engine, tmp_path: Path) -> None:
    built = build(engine, tmp_path, service="")
    load(built)
    client = built.client
    assert client.get("/ui").status_code == 200
    assert "Signing in is off" in client.get("/ui/signin").text
    assert "Read only" in client.get("/ui").text
    vid = _variance(engine)
    refused = client.post(f"/ui/variances/{vid}/ack", data={"note": "x"})
    assert refused.status_code == 403
    assert client.post("/ui/signin", data={"token": ""}).status_code == 403
    assert client.post("/ui/operations/psa/sync", data={}).status_code == 403
    assert _status(engine, vid)[0] == "open"
    built.worker.stop(5)


# --- writes: acknowledge and trigger ---------------------------------------------------------


def test_acknowledging_needs_the_session_and_its_csrf_token_and_keeps_history(ui: Ui) -> None:
    vid = _variance(ui.engine)
    page = ui.client.get(f"/ui/variances/{vid}").text
    assert "to acknowledge" in page and "<textarea" not in page  # not signed in: no form
    anonymous = ui.client.post(f"/ui/variances/{vid}/ack", data={"note": "known"},
                               follow_redirects=False)  # fmt: skip
    assert anonymous.status_code == 401  # the gate: no token, no session
    csrf = ui.sign_in()
    missing = ui.client.post(f"/ui/variances/{vid}/ack", data={"note": "known"})
    assert missing.status_code == 403 and "CSRF token" in missing.text
    wrong = ui.client.post(f"/ui/variances/{vid}/ack", data={"note": "known", "csrf": "x" + csrf})
    assert wrong.status_code == 403
    assert _status(ui.engine, vid) == ("open", None, None)
    blank = ui.client.post(f"/ui/variances/{vid}/ack", data={"note": "   ", "csrf": csrf})
    assert blank.status_code == 400
    done = ui.client.post(
        f"/ui/variances/{vid}/ack",
        data={"note": "  vendor invoice\nbooked early ", "by": "pmo-lead", "csrf": csrf},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (
        303, f"/ui/variances/{vid}?done=acknowledged"
    )  # fmt: skip
    assert _status(ui.engine, vid) == ("acknowledged", "vendor invoice booked early", "pmo-lead")
    shown = ui.client.get(f"/ui/variances/{vid}?done=acknowledged").text
    assert '<span class="badge status-acknowledged" id="status">acknowledged</span>' in shown
    history = re.findall(r'<li data-event="([a-z ]+)">(.*?)</li>', shown)
    assert [e for e, _ in history] == ["opened", "last seen", "acknowledged"]  # oldest first
    assert "by pmo-lead: vendor invoice booked early" in history[2][1]
    # the API lists it acknowledged too
    api = ui.client.get("/variances", params={"status": "acknowledged"}).json()
    assert [v["id"] for v in api["items"]] == [vid]
    # a resolved variance cannot be acknowledged
    with Session(ui.engine) as s:
        s.execute(update(Variance).where(Variance.id == vid).values(
            status="resolved", resolved_at=utcnow()))  # fmt: skip
        s.commit()
    resolved = ui.client.post(f"/ui/variances/{vid}/ack", data={"note": "x", "csrf": csrf})
    assert resolved.status_code == 409 and "is resolved" in resolved.text
    # one event for the form that wrote, none for those refused; the history is the events
    # (the status set by hand above is no transition: no event)
    with Session(ui.engine) as s:
        written = s.execute(
            select(VarianceEvent.event, VarianceEvent.acknowledged_by, VarianceEvent.note)
            .where(VarianceEvent.variance_id == vid).order_by(VarianceEvent.id)
        ).all()  # fmt: skip
    assert [tuple(e) for e in written] == [
        ("opened", None, None), ("acknowledged", "pmo-lead", "vendor invoice booked early")
    ]  # fmt: skip
    events = [e for e, _ in re.findall(r'<li data-event="([a-z ]+)">(.*?)</li>',
                                       ui.client.get(f"/ui/variances/{vid}").text)]  # fmt: skip
    assert events == ["opened", "last seen", "acknowledged"]
    assert (
        ui.client.post("/ui/variances/999999/ack", data={"note": "x", "csrf": csrf}).status_code
        == 404
    )


def test_the_trigger_starts_a_sync_and_its_page_shows_the_run(ui: Ui) -> None:
    refused = ui.client.post("/ui/operations/psa/sync", data={}, follow_redirects=False)
    assert refused.status_code == 401
    csrf = ui.sign_in()
    assert ui.client.post("/ui/operations/psa/sync", data={}).status_code == 403  # no CSRF
    with Session(ui.engine) as s:
        before = len(s.scalars(select(SyncRun.id)).all())
    started = ui.client.post("/ui/operations/psa/sync", data={"csrf": csrf}, follow_redirects=False)
    assert started.status_code == 303, started.text
    run_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert wait_for(f"run {run_id}", lambda: finished(ui.engine, run_id)) == "succeeded"
    with Session(ui.engine) as s:
        run = s.get(SyncRun, run_id)
        assert run is not None and (run.connector, run.trigger) == ("psa", "ui")
        assert len(s.scalars(select(SyncRun.id)).all()) == before + 1
    page = ui.client.get(f"/ui/runs/{run_id}").text
    assert '<span class="badge status-succeeded" id="run-status">succeeded</span>' in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    streams = rows(page, "data-stream")
    with Session(ui.engine) as s:
        stored = {
            r.stream: [str(r.rows_read), str(r.rows_written)]
            for r in s.scalars(select(SyncRunStream).where(SyncRunStream.run_id == run_id))
        }
    assert {k: v[2:4] for k, v in streams.items()} == stored and "actuals" in stored
    assert ui.client.post("/ui/operations/nope/sync", data={"csrf": csrf}).status_code == 404


def test_a_running_runs_progress_polls_until_it_ends(ui: Ui) -> None:
    with Session(ui.engine) as s:
        run = SyncRun(connector="psa", status="running", trigger="api", started_at=utcnow())
        s.add(run)
        s.commit()
        run_id = run.id
    fragment = ui.client.get(f"/ui/runs/{run_id}/progress").text
    assert fragment.startswith(f'<section id="run-progress" aria-live="polite" '
                               f'hx-get="/ui/runs/{run_id}/progress" hx-trigger="every 1s"')  # fmt: skip
    page = ui.client.get(f"/ui/runs/{run_id}").text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page  # without JS
    with Session(ui.engine) as s:
        s.execute(update(SyncRun).where(SyncRun.id == run_id).values(
            status="failed", finished_at=utcnow(), message="it broke"))  # fmt: skip
        s.commit()
    done = ui.client.get(f"/ui/runs/{run_id}/progress").text
    assert "hx-trigger" not in done and "it broke" in done and "status-failed" in done
    assert ui.client.get("/ui/runs/999999").status_code == 404


# --- headers and escaping --------------------------------------------------------------------


def test_pages_carry_security_headers_and_no_inline_script_or_style(ui: Ui) -> None:
    csrf = ui.sign_in()
    assert csrf
    vid = _variance(ui.engine)
    for path in ("/ui", "/ui/projects/PRJ-0001", "/ui/variances", f"/ui/variances/{vid}",
                 "/ui/operations", "/ui/runs/1", "/ui/signin", "/ui/projects/NOPE"):  # fmt: skip
        answer = ui.client.get(path)
        h = answer.headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert (h["x-frame-options"], h["x-content-type-options"]) == ("DENY", "nosniff")
        assert h["referrer-policy"] == "same-origin" and h["cache-control"] == "no-store"
        html = answer.text
        assert re.findall(r"<script(?![^>]*\ssrc=)", html) == [], path
        assert " style=" not in html and "<style" not in html, path
        assert re.findall(r"\son[a-z]+=", html) == [], path
    static = ui.client.get("/ui/static/htmx.min.js")
    assert static.status_code == 200 and "nosniff" == static.headers["x-content-type-options"]
    assert "cache-control" not in static.headers
    assert ui.client.get("/healthz").headers.get("x-frame-options") is None  # the API's own


def test_a_hostile_project_name_and_source_link_are_text(ui: Ui) -> None:
    hostile = '<script>alert("x")</script>'
    with Session(ui.engine) as s:
        s.execute(update(Project).where(Project.code == "PRJ-0001").values(
            name=hostile, manager="<b>boss</b>", source_url="javascript:alert(1)"))  # fmt: skip
        s.commit()
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    for path in ("/ui", "/ui/projects/PRJ-0001", "/ui?q=%3Cscript%3E"):
        html = ui.client.get(path).text
        assert hostile not in html and escaped in html, path
        assert "<b>boss</b>" not in html and "&lt;b&gt;boss&lt;/b&gt;" in html, path
        assert "javascript:" not in html, path
    assert rows(ui.client.get("/ui?q=%3Cscript%3E").text, "data-project").keys() == {"PRJ-0001"}
    # a safe link from a source is a link
    with Session(ui.engine) as s:
        s.execute(update(Project).where(Project.code == "PRJ-0001").values(
            source_url="https://psa.example.test/p/1?a=1&b=2"))  # fmt: skip
        s.commit()
    html = ui.client.get("/ui/projects/PRJ-0001").text
    assert 'href="https://psa.example.test/p/1?a=1&amp;b=2" rel="noopener noreferrer"' in html


def test_a_project_code_with_slashes_and_marks_links_to_its_page(ui: Ui) -> None:
    code = "A/B <&> ?#%"
    with Session(ui.engine) as s:
        s.execute(
            update(Project).where(Project.code == "PRJ-0002").values(code=code, updated_at=utcnow())
        )
        s.commit()
    portfolio = ui.client.get("/ui").text
    link = re.search(r'<a href="(/ui/projects/A[^"]*)">A/B &lt;&amp;&gt; \?#%</a>', portfolio)
    assert link is not None
    page = ui.client.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200
    assert "A/B &lt;&amp;&gt; ?#%" in page.text and "<title>A/B &lt;&amp;&gt; ?#% ·" in page.text
