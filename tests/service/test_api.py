"""The HTTP API in-process (both engines): tokens, runs, triggered syncs and 409, variances,
probes and metrics, with the values the ledger holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Allowance
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.lease import Lease
from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import ServiceStopping, Worker
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import SyncRun, SyncRunStream, Variance, utcnow
from tests.jobs.scripted import held_run
from tests.service.helpers import finished, live_actuals, make_app, wait_for

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(app: App) -> tuple[TestClient, Worker]:
    worker = Worker(app, Notifier([]))
    return TestClient(create_api(worker, lambda: True)), worker


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Worker]]:
    app = make_app(engine, tmp_path, {"psa": ""}, service=f'api_token = "{TOKEN}"')
    client, worker = _client(app)
    with client:
        yield client, worker
    worker.stop(5)


def _sync(client: TestClient, engine: Engine, **body: object) -> int:
    answer = client.post("/syncs/psa", headers=AUTH, json=body or None)
    assert answer.status_code == 202, answer.text
    run_id = int(answer.json()["run_id"])
    assert answer.json() == {"run_id": run_id, "connector": "psa", "status": "running",
                             "url": f"/runs/{run_id}"}  # fmt: skip
    assert wait_for(f"run {run_id}", lambda: finished(engine, run_id)) == "succeeded"
    return run_id


def test_a_triggered_sync_returns_its_run_and_runs_show_its_figures(
    api: tuple[TestClient, Worker], engine: Engine
) -> None:
    client, _ = api
    run_id = _sync(client, engine)
    count, amounts = live_actuals(engine, "psa")
    assert count == 300
    run = client.get(f"/runs/{run_id}").json()
    assert (run["id"], run["connector"], run["status"], run["trigger"]) == (
        run_id, "psa", "succeeded", "api"
    )  # fmt: skip
    actuals = next(s for s in run["streams"] if s["stream"] == "actuals")
    assert (actuals["rows_read"], actuals["rows_written"], actuals["status"]) == (
        300,
        300,
        "succeeded",
    )
    assert {c: Decimal(a) for c, a in actuals["amounts"]["inserted"].items()} == amounts
    listed = client.get("/runs", params={"connector": "psa", "status": "succeeded"}).json()
    assert [r["id"] for r in listed] == [run_id]
    assert client.get("/runs", params={"connector": "nope"}).json() == []
    missing = client.get("/runs/999999")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no run 999999"})


def test_sync_options_are_recorded_and_bad_bodies_refused(
    api: tuple[TestClient, Worker], engine: Engine
) -> None:
    client, _ = api
    run_id = _sync(client, engine, full=True, since="2025-03-01")
    with Session(engine) as s:
        options = s.get(SyncRun, run_id).options
    assert (options["full"], options["since"]) == (True, "2025-03-01")
    bad = client.post("/syncs/psa", headers=AUTH, json={"full": True, "stream": "x"})
    assert bad.status_code == 422
    bad_date = client.post("/syncs/psa", headers=AUTH, json={"since": "2025-02-30"})
    assert bad_date.status_code == 422
    unknown = client.post("/syncs/erp", headers=AUTH)
    assert (unknown.status_code, unknown.json()) == (
        404, {"detail": "no connector 'erp' is configured"}
    )  # fmt: skip
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 1  # nothing else started


def test_a_running_sync_answers_409_with_its_run_id(
    api: tuple[TestClient, Worker], engine: Engine, tmp_path: Path
) -> None:
    client, _ = api
    lease = Lease(engine, "psa", "another-replica", api[1].app.settings.lease_ttl)
    assert lease.acquire() is None
    run_id = held_run(engine, lease)
    answer = client.post("/syncs/psa", headers=AUTH)
    assert answer.status_code == 409
    body = answer.json()
    assert (body["run_id"], body["reason"]) == (run_id, "running")
    assert body["detail"].startswith(f"already running: run {run_id} since ")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 1  # no row for the refusal
    lease.release()


def test_a_disabled_connector_answers_409_and_runs_nothing(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path, {"psa": "", "off": "enabled = false"},
                   service=f'api_token = "{TOKEN}"')  # fmt: skip
    client, worker = _client(app)
    answer = client.post("/syncs/off", headers=AUTH, json={"full": True})
    assert (answer.status_code, answer.json()) == (409, {
        "detail": "connector off is disabled (enabled = false in [connectors.off])",
        "run_id": None,
        "reason": "disabled",
    })  # fmt: skip
    assert worker.running() == []
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 0  # no row, no lease
    assert live_actuals(engine, "off") == (0, {})
    worker.scheduled_sync("off")  # a job for it (there is none) would be refused the same way
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 0


def test_write_endpoints_need_the_token(api: tuple[TestClient, Worker], engine: Engine) -> None:
    client, _ = api
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = client.post("/syncs/psa", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json() == {"detail": "a valid bearer token is required"}
        assert answer.headers["www-authenticate"] == "Bearer"
        assert (
            client.post("/variances/1/ack", headers=headers, json={"note": "x"}).status_code == 401
        )
    assert client.get("/runs").status_code == 200  # reads are open by default
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 0


def test_without_a_token_configured_writes_are_off(engine: Engine, tmp_path: Path) -> None:
    client, _ = _client(make_app(engine, tmp_path, {"psa": ""}))
    answer = client.post("/syncs/psa", headers=AUTH)
    assert (answer.status_code, answer.json()) == (
        403, {"detail": "write endpoints are off: set [service] api_token"}
    )  # fmt: skip
    assert client.get("/variances").status_code == 200


def test_reads_can_require_the_token(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path, {"psa": ""},
                   service=f'api_token = "{TOKEN}"\nread_requires_token = true')  # fmt: skip
    client, _ = _client(app)
    for path in ("/runs", "/runs/1", "/variances"):
        assert client.get(path).status_code == 401, path
    assert client.get("/runs", headers=AUTH).json() == []
    assert client.get("/variances", headers=AUTH).json() == {
        "items": [], "total": 0, "limit": 100, "offset": 0
    }  # fmt: skip
    for path in ("/healthz", "/readyz", "/metrics"):  # probes and scrapers stay open
        assert client.get(path).status_code == 200, path


def test_variances_page_past_the_old_1000_row_stop_with_filters_and_a_total(
    api: tuple[TestClient, Worker], engine: Engine
) -> None:
    """1,201 variances come in pages of at most 500 (a larger limit is a 422 naming it), each
    page with the total; filters by severity, rule, project and status combine with paging
    (issue 18, item 4)."""
    client, _ = api
    now = utcnow()
    rows = [
        {"rule": ("budget_overrun", "burn_rate")[i % 2], "subject_id": f"P{i % 4}",
         "severity": ("high", "medium", "low")[i % 3], "status": ("open", "resolved")[i % 5 == 0]}
        for i in range(1201)
    ]  # fmt: skip
    with Session(engine) as s:
        s.add_all(
            Variance(**r, subject_type="project", dimension="labor", period=f"{2000 + i}-01",
                     message=f"finding {i}", as_known_at=now, first_seen_at=now,
                     last_seen_at=now, reopened_count=0)
            for i, r in enumerate(rows)
        )  # fmt: skip
        s.commit()
    seen: list[int] = []
    for offset in (0, 500, 1000):
        page = client.get("/variances", params={"limit": 500, "offset": offset}).json()
        assert (page["total"], page["limit"], page["offset"]) == (1201, 500, offset)
        seen += [v["id"] for v in page["items"]]
    assert len(seen) == len(set(seen)) == 1201
    too_many = client.get("/variances", params={"limit": 501})
    assert too_many.status_code == 422 and "limit" in too_many.text
    assert client.get("/variances", params={"offset": -1}).status_code == 422
    # i = 2, 8, ..., 1196: low burn_rate rows
    low = client.get("/variances", params={"severity": "low", "rule": "burn_rate", "limit": 1})
    assert (low.json()["total"], len(low.json()["items"])) == (200, 1)
    wanted = {"subject_id": "P1", "severity": "high", "status": "open"}
    expected = sum(1 for r in rows if wanted.items() <= r.items())
    page = client.get("/variances", params={"project": "P1", "severity": "high",
                                            "status": "open", "limit": 500}).json()  # fmt: skip
    assert page["total"] == len(page["items"]) == expected == 80
    assert {(v["subject_id"], v["severity"], v["status"]) for v in page["items"]} == {
        ("P1", "high", "open")
    }
    page = client.get("/variances", params={"status": "resolved", "offset": 200}).json()
    assert (page["total"], len(page["items"])) == (241, 41)


def test_variances_are_listed_most_severe_first_and_acknowledged(
    api: tuple[TestClient, Worker], engine: Engine
) -> None:
    client, worker = api
    _sync(client, engine)
    run_reconcile(worker.app)
    with Session(engine) as s:
        open_ = s.scalar(select(func.count()).where(Variance.status == "open"))
        high = s.scalar(select(func.count()).where(Variance.severity == "high"))
    page = client.get("/variances", params={"open": "true", "limit": 500}).json()
    listed = page["items"]
    assert len(listed) == page["total"] == open_ > 0
    ranks = [{"high": 0, "medium": 1, "low": 2}[v["severity"]] for v in listed]
    assert ranks == sorted(ranks)
    assert client.get("/variances", params={"severity": "high"}).json()["total"] == high
    target = listed[0]
    acked = client.post(f"/variances/{target['id']}/ack", headers=AUTH,
                        json={"note": "  known: vendor invoice early  ", "by": "pmo-lead"})  # fmt: skip
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["note"], acked.json()["acknowledged_by"]) == (
        "acknowledged", "known: vendor invoice early", "pmo-lead"
    )  # fmt: skip
    with Session(engine) as s:
        stored = s.get(Variance, target["id"])
        assert (stored.status, stored.note) == ("acknowledged", "known: vendor invoice early")
        ack_at = stored.acknowledged_at
    history = client.get(f"/variances/{target['id']}/history")
    assert history.status_code == 200, history.text
    body = history.json()
    assert (body["variance_id"], body["status"], body["reopened_count"]) == (
        target["id"], "acknowledged", 0
    )  # fmt: skip
    assert [(e["event"], e["status"], e["acknowledged_by"], e["note"], e["reconstructed"])
            for e in body["events"]] == [
        ("opened", "open", None, None, False),
        ("acknowledged", "acknowledged", "pmo-lead", "known: vendor invoice early", False),
    ]  # fmt: skip
    assert body["events"][0]["reconcile_run_id"] == 1
    assert body["events"][1]["reconcile_run_id"] is None
    assert datetime.fromisoformat(body["events"][1]["at"]) == ack_at
    blank = client.post(f"/variances/{target['id']}/ack", headers=AUTH, json={"note": "   "})
    assert blank.status_code == 422
    missing = client.post("/variances/999999/ack", headers=AUTH, json={"note": "x"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "no variance 999999"})
    with engine.begin() as conn:
        conn.execute(update(Variance).where(Variance.id == target["id"]).values(status="resolved"))
    resolved = client.post(f"/variances/{target['id']}/ack", headers=AUTH, json={"note": "x"})
    assert resolved.status_code == 409
    assert resolved.json() == {
        "detail": f"variance {target['id']} is resolved: nothing to acknowledge"
    }
    # the refused acknowledgements (blank, unknown, resolved) wrote no event
    assert len(client.get(f"/variances/{target['id']}/history").json()["events"]) == 2
    unknown = client.get("/variances/999999/history")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no variance 999999"})


def test_probes_and_metrics(api: tuple[TestClient, Worker], engine: Engine) -> None:
    client, worker = api
    assert client.get("/healthz").json() == {"status": "ok", "scheduler": "running",
                                             "running_runs": []}  # fmt: skip
    assert client.get("/readyz").json() == {"status": "ready", "database": "reachable",
                                            "schema_current": True, "detail": None}  # fmt: skip
    run_id = _sync(client, engine)
    run_reconcile(worker.app)
    worker.allowances["psa"] = Allowance(used=1_250, limit=15_000)
    with engine.begin() as conn:
        for status in ("failed", "running"):
            conn.execute(
                SyncRun.__table__.insert().values(
                    connector="psa", status=status, trigger="cli", started_at=utcnow()
                )
            )
    text = client.get("/metrics").text
    with Session(engine) as s:
        severities = dict(s.execute(select(Variance.severity, func.count())
                                    .group_by(Variance.severity)).all())  # fmt: skip
        written = s.scalar(select(SyncRunStream.rows_written).where(
            SyncRunStream.run_id == run_id, SyncRunStream.stream == "projects"))  # fmt: skip
        started = s.get(SyncRun, run_id).started_at
    got = _samples(text)
    assert not [k for k in got if ("status", "running") in k[1]]  # counters never go down
    assert got[("pmo_ledger_sync_runs_total", (("connector", "psa"), ("status", "succeeded")))] == 1
    assert got[("pmo_ledger_sync_runs_total", (("connector", "psa"), ("status", "failed")))] == 1
    rows = "pmo_ledger_sync_rows_total"
    assert got[(rows, (("connector", "psa"), ("outcome", "read"), ("stream", "actuals")))] == 300
    assert got[(rows, (("connector", "psa"), ("outcome", "written"), ("stream", "projects")))] == (
        written
    )
    assert got[("pmo_ledger_sync_running", (("connector", "psa"),))] == 1
    last = got[("pmo_ledger_last_success_timestamp_seconds", (("connector", "psa"),))]
    assert last == pytest.approx(started.timestamp(), abs=1e-3)
    for severity in ("high", "medium", "low"):
        key = ("pmo_ledger_open_variances", (("severity", severity),))
        assert got[key] == severities.get(severity, 0), severity
    assert got[("pmo_ledger_source_api_allowance_remaining", (("connector", "psa"),))] == 13_750
    assert got[("pmo_ledger_source_api_allowance_limit", (("connector", "psa"),))] == 15_000


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_readyz_tells_a_database_behind_the_code_or_unreachable(tmp_path: Path) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    config = parse_config({"connectors": {}}, {}, tmp_path)
    client, _ = _client(App(config, None, _engine=fresh))
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json() == {"status": "not ready", "database": "reachable",
                             "schema_current": False, "detail": "run: pmo-ledger db upgrade"}  # fmt: skip
    down = make_engine("postgresql://nobody:hunter2@127.0.0.1:1/none")
    client, _ = _client(App(config, None, _engine=down))
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["database"]) == (503, "unreachable")
    assert "hunter2" not in answer.text
    runs = client.get("/runs")
    assert runs.status_code == 503
    assert runs.json()["detail"].startswith("ledger database error: ")
    fresh.dispose()
    down.dispose()


def test_a_trigger_while_stopping_gets_503_and_leaves_nothing_running(
    api: tuple[TestClient, Worker], engine: Engine
) -> None:
    client, worker = api
    started = worker.start("psa", trigger="api")
    worker.cancel.set()  # the service began stopping between start and hand-over
    with pytest.raises(ServiceStopping):
        worker.submit(started)
    with Session(engine) as s:
        run = s.get(SyncRun, started.run_id)
        assert (run.status, run.message) == (
            "interrupted",
            "the service stopped before the run began",
        )
    answer = client.post("/syncs/psa", headers=AUTH)
    assert (answer.status_code, answer.json()) == (
        503, {"detail": "the service is stopping; it starts no more runs"}
    )  # fmt: skip
    assert Lease(engine, "psa", "next", worker.app.settings.lease_ttl).acquire() is None


def test_nul_characters_are_refused_as_bad_input(api: tuple[TestClient, Worker]) -> None:
    """PostgreSQL text cannot hold NUL: a 422 for the client, not a database error."""
    client, _ = api
    for path, params in (("/runs", {"connector": "a\x00b"}), ("/variances", {"project": "P\x00"}),
                         ("/variances", {"rule": "\x00"})):  # fmt: skip
        assert client.get(path, params=params).status_code == 422, (path, params)
    ack = client.post("/variances/1/ack", headers=AUTH, json={"note": "a\x00b"})
    assert ack.status_code == 422
    assert "must not contain NUL characters" in ack.text


def test_readyz_is_not_ready_while_stopping(api: tuple[TestClient, Worker]) -> None:
    client, worker = api
    worker.cancel.set()
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["detail"]) == (503, "stopping")
