"""`pmo-ledger serve` as real processes: two replicas on one database load once; the HTTP API
over a real socket with and without the token; SIGTERM in the middle of a run (no partial
page, the run interrupted, the next run resumes), also when a page outlasts stop_timeout."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import SyncLock, SyncRunStream, SyncState
from tests.service.helpers import (
    config_text,
    finished,
    free_port,
    live_actuals,
    make_app,
    runs,
    serving,
    wait_for,
)

TOKEN = "serve-t0ken"
SLOW = "actuals = 2000\npage_size = 100\n"


def _config(tmp_path: Path, engine: Engine, extra: str, service: str = "") -> Path:
    path = tmp_path / "pmo-ledger.toml"
    text = config_text(engine, {"psa": extra}, ledger="batch_rows = 300",
                       service=f'api_token = "{TOKEN}"\n{service}')  # fmt: skip
    path.write_text(text + '\n[logging]\nlevel = "INFO"\n', encoding="utf-8")
    return path


def _read_so_far(engine: Engine, run_id: int, stream: str) -> int:
    with Session(engine) as s:
        read = s.scalar(select(SyncRunStream.rows_read).where(
            SyncRunStream.run_id == run_id, SyncRunStream.stream == stream))  # fmt: skip
    return int(read or 0)


def _lease_free(engine: Engine) -> bool:
    with Session(engine) as s:
        return s.scalar(select(SyncLock.holder).where(SyncLock.connector == "psa")) is None


@pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_two_replicas_firing_the_same_schedule_load_once(engine: Engine, tmp_path: Path) -> None:
    config = _config(tmp_path, engine, f'schedule = "1h"\n{SLOW}page_delay = 0.1\n')
    with serving(config, tmp_path / "a.log", free_port()) as a, \
            serving(config, tmp_path / "b.log", free_port()) as b:  # fmt: skip
        # Neither replica ever ran psa: both find it overdue and fire at start-up.
        wait_for("the run", lambda: runs(engine) and finished(engine, 1))
        wait_for("the other replica to skip", lambda: a.event("sync_skipped") or b.event("sync_skipped"))
        assert a.terminate() == 0 and b.terminate() == 0
    assert [r[1:3] for r in runs(engine)] == [("succeeded", "schedule")]
    assert live_actuals(engine, "psa")[0] == 2000
    ran = [p for p in (a, b) if p.event("sync_run_started")]
    assert len(ran) == 1


def test_sigterm_in_the_middle_of_a_run_interrupts_it_at_a_page_boundary(
    engine: Engine, tmp_path: Path
) -> None:
    config = _config(tmp_path, engine, f"{SLOW}page_delay = 0.15\n")
    with serving(config, tmp_path / "serve.log", free_port()) as serve:
        with httpx.Client(base_url=serve.url, timeout=10) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            refused = http.post("/syncs/psa")
            assert (refused.status_code, refused.json()) == (
                401, {"detail": "a valid bearer token is required"}
            )  # fmt: skip
            started = http.post("/syncs/psa", headers={"Authorization": f"Bearer {TOKEN}"})
            assert started.status_code == 202, started.text
            run_id = started.json()["run_id"]
            busy = http.post("/syncs/psa", headers={"Authorization": f"Bearer {TOKEN}"})
            assert (busy.status_code, busy.json()["run_id"]) == (409, run_id)
            assert http.get(f"/runs/{run_id}").json()["status"] == "running"
        wait_for("a committed batch of actuals", lambda: _read_so_far(engine, run_id, "actuals") >= 300)
        assert serve.terminate() == 0
    assert runs(engine) == [(run_id, "interrupted", "api", "cancelled during stream actuals; "
                             "the next run resumes from the last committed checkpoint")]  # fmt: skip
    loaded, _ = live_actuals(engine, "psa")
    assert 300 <= loaded < 2000 and loaded % 100 == 0  # whole pages only
    with Session(engine) as s:
        checkpoint = s.scalar(select(SyncState.checkpoint).where(
            SyncState.connector == "psa", SyncState.stream == "actuals"))  # fmt: skip
    assert checkpoint is not None
    assert _lease_free(engine)

    # The next run resumes from the checkpoint and ends exactly where a clean load does.
    app = make_app(engine, tmp_path, {"psa": SLOW})
    resumed = run_sync(app, "psa")
    assert resumed.status == "succeeded"
    actuals = next(st for st in resumed.streams if st.stream == "actuals")
    # From the checkpoint on (inclusive: the record at it is read again, unchanged).
    assert 2000 - loaded <= actuals.stats.read < 2000
    assert (actuals.stats.inserted, actuals.stats.restated) == (2000 - loaded, 0)
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate.upgrade(clean)
    run_sync(make_app(clean, tmp_path, {"psa": SLOW}), "psa")
    assert live_actuals(engine, "psa") == live_actuals(clean, "psa")
    clean.dispose()


@pytest.mark.parametrize("trigger", ["api", "schedule"])
def test_a_page_that_outlasts_stop_timeout_is_marked_interrupted(
    engine: Engine, tmp_path: Path, trigger: str
) -> None:
    """The run is inside a 20 s page read: after stop_timeout (1 s) it is marked interrupted,
    its lease freed, and the process exits at once (no thread holds it)."""
    schedule = 'schedule = "1h"\n' if trigger == "schedule" else ""  # never ran: fires at start-up
    config = _config(tmp_path, engine, f"{schedule}page_delay = 20\n", service='stop_timeout = "1s"')
    with serving(config, tmp_path / "serve.log", free_port()) as serve:
        if trigger == "api":
            started = httpx.post(f"{serve.url}/syncs/psa", headers={"Authorization": f"Bearer {TOKEN}"})
            assert started.status_code == 202
            run_id = started.json()["run_id"]
        else:
            run_id = wait_for("the scheduled run", lambda: runs(engine) and runs(engine)[0][0])
        # Inside its first page (a cancel before a read asks for a page ends the run at once).
        wait_for("the first stream's read", lambda: serve.event("sync_stream_started"))
        assert serve.terminate(timeout=10) == 0  # well before the page would return
        stopped = serve.event("service_stopped")
    assert stopped is not None and stopped["interrupted"] == [run_id]
    assert runs(engine) == [(run_id, "interrupted", trigger, "the service stopped before the run "
                             "reached a page boundary; the next run resumes from the last "
                             "committed checkpoint")]  # fmt: skip
    assert _lease_free(engine)


def test_serve_on_a_busy_port_is_one_error_line_and_runs_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    import socket
    import subprocess
    import sys

    from tests.service.helpers import ROOT

    config = _config(tmp_path, engine, 'schedule = "1h"\n')  # overdue: would fire at start-up
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "pmo_ledger.jobs.cli", "--config", str(config), "serve", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"error: the HTTP API could not listen on 127.0.0.1:{port} "
        "(is the port in use? --port or [service] port)"
    )
    assert "Traceback" not in done.stderr
    assert runs(engine) == []
