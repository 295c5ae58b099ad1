"""SIGTERM to `pmo-ledger serve` while a run reads a Salesforce org ahead of its writes (the
default `prefetch_pages`), SQLite and PostgreSQL: the run ends interrupted at a page boundary,
whole pages only, and the next run reads the rest to the org's totals (issue 25, item 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.salesforce.sandbox import SandboxServer, TlsFiles
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import SyncRunStream, SyncState
from pmo_ledger.ledger.settings import LedgerSettings
from tests.connectors.salesforce.psa_org import PsaOrg, build_org, ledger_totals, sandbox_app
from tests.service.helpers import free_port, runs, serving, wait_for

PAGE = 20
TOKEN = "serve-t0ken"


@pytest.fixture
def psa() -> PsaOrg:
    org = build_org()
    for i in range(292):  # 300 timecards: 15 pages
        org.add_timecard(("P1", "P2", "P3")[i % 3], "1.0", f"{10 + i}.00")
    return org


@pytest.fixture
def server(psa: PsaOrg, tls: TlsFiles) -> Iterator[SandboxServer]:
    with SandboxServer(psa.org, tls=tls, page_size=PAGE) as running:
        running.delay = 0.1  # each call: the producer is inside one when the signal comes
        yield running


def _config(tmp_path: Path, engine: Engine, server: SandboxServer) -> Path:
    user = server.user
    tables = {
        "ledger": {"url": engine.url.render_as_string(hide_password=False),
                   "base_currency": "USD", "rate_sources": ["crm", "manual"],
                   "max_rate_age": "400d", "batch_rows": PAGE},
        "connectors.crm": {"kind": "salesforce", "login_url": server.login_url,
                           "username": user.username, "password": user.password,
                           "security_token": user.security_token,
                           "ca_bundle": str(server.ca_file), "max_retries": 0,
                           "bulk_threshold": 0},
        "reconcile": {"after_sync": False},
        "service": {"api_token": TOKEN, "stop_timeout": "60s"},  # a loaded machine: no give-up
        "logging": {"level": "INFO"},
    }  # fmt: skip
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
        for name, values in tables.items()
    )
    path = tmp_path / "pmo-ledger.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _timecards_read(engine: Engine, run_id: int) -> int:
    with Session(engine) as s:
        read = s.scalar(select(SyncRunStream.rows_read).where(
            SyncRunStream.run_id == run_id, SyncRunStream.stream == "timecards"))  # fmt: skip
    return int(read or 0)


def test_sigterm_while_reading_ahead_interrupts_at_a_page_boundary(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    assert LedgerSettings().prefetch_pages > 0  # the default reads ahead
    config = _config(tmp_path, engine, server)
    with serving(config, tmp_path / "serve.log", free_port()) as serve:
        started = httpx.post(
            f"{serve.url}/syncs/crm", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        wait_for("two committed pages of timecards",
                 lambda: _timecards_read(engine, run_id) >= 2 * PAGE)  # fmt: skip
        assert serve.terminate() == 0
        assert not [e for e in serve.events() if e.get("level") in ("error", "critical")]
    assert runs(engine) == [(run_id, "interrupted", "api", "cancelled during stream timecards; "
                             "the next run resumes from the last committed checkpoint")]  # fmt: skip
    read = _timecards_read(engine, run_id)
    assert 2 * PAGE <= read < 300 and read % PAGE == 0  # whole pages only
    with Session(engine) as s:
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is not None  # where the full read goes on
        assert state.resume["listed"] == read

    # The next run reads the rest of the full read and ends at the org's totals (the org
    # answers at once now: the delay only had to hold the producer inside a call).
    server.delay = 0
    app = sandbox_app(engine, tmp_path, server, {"batch_rows": PAGE})
    resumed = run_sync(app, "crm")
    assert resumed.status == "succeeded", resumed.message
    assert _timecards_read(engine, resumed.run_id or 0) == 300 - read
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
