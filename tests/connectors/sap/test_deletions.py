"""Projects and WBS elements that vanish from SAP without a deletion flag (archived over RFC;
over OData, any that is gone) are deleted in the ledger: each full read of the projects and
tasks streams remembers the keys it listed and reports the ones missing next time, under the
connector's own mass-delete guard. Over the in-test RFC stub and the OData sandbox, on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from pmo_ledger.connectors.base import Cursor, SandboxOptions
from pmo_ledger.connectors.sap import SapConnector
from pmo_ledger.connectors.sap.listing import remembered, token
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import Project, SyncState, Task
from tests.connectors.sap.sap_system import app, app_reading
from tests.connectors.sap.stub_rfc import System

MASTER = ["projects", "tasks"]


def live(a: Any, source: str = "erp") -> tuple[set[str], set[str]]:
    """Live project codes and task WBS codes."""
    with a.reading() as s:
        projects = set(s.scalars(select(Project.code).where(Project.deleted_at.is_(None))))
        tasks = set(
            s.scalars(select(Task.wbs_code).where(Task.deleted_at.is_(None), Task.source == source))
        )
    return projects - {"UNMAPPED"}, tasks


def test_the_token_round_trips_its_keys_and_an_old_token_remembers_none() -> None:
    keys = {"P-1000", "P-2000", "Ä|odd key"}
    assert remembered(token(keys)) == keys
    assert remembered(token([])) == set()
    assert remembered(Cursor("token", "2026-12-07T12:00:00+00:00")) is None  # before this
    assert remembered(Cursor("token", "2026-12-07T12:00:00+00:00 listed:not base64!")) is None
    assert remembered(None) is None


def test_archived_rows_without_a_deletion_flag_are_deleted(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    a = app(engine, tmp_path)
    first = run_sync(a, "erp", streams=MASTER)
    assert first.status == "succeeded", first.message
    assert live(a) == ({"P-1000", "P-2000"}, {"P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02"})
    again = run_sync(a, "erp", streams=MASTER)  # nothing vanished: nothing deleted
    assert again.status == "succeeded" and live(a)[1] == {
        "P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02",
    }  # fmt: skip
    t = system.tables
    t["PRPS"].rows[:] = [r for r in t["PRPS"].rows if r["POSID"] != "P-1000.02"]  # archived
    t["PROJ"].rows[:] = [r for r in t["PROJ"].rows if r["PSPID"] != "P-2000"]
    t["PRPS"].rows[:] = [r for r in t["PRPS"].rows if not r["POSID"].startswith("P-2000")]
    result = run_sync(a, "erp", streams=MASTER)
    assert result.status == "succeeded", result.message
    assert live(a) == ({"P-1000"}, {"P-1000.01"})
    with a.reading() as s:
        state = s.scalar(
            select(SyncState.checkpoint).where(
                SyncState.connector == "erp", SyncState.stream == "tasks"
            )
        )
    assert state is not None
    assert remembered(Cursor.from_json(state)) == {"P-1000.01"}


def test_a_read_that_would_delete_too_much_stops_the_stream_and_deletes_nothing(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    a = app(engine, tmp_path, max_vanished_share="0.25", max_vanished_min=1)
    assert run_sync(a, "erp", streams=MASTER).status == "succeeded"
    t = system.tables
    t["PRPS"].rows[:] = [r for r in t["PRPS"].rows if r["POSID"] == "P-1000.01"]  # 3 of 4 gone
    result = run_sync(a, "erp", streams=MASTER)
    assert result.status != "succeeded"
    assert "tasks lists 1 keys where the last read listed 4: 3 would be deleted" in (
        result.message or ""
    )
    assert live(a)[1] == {"P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02"}
    looser = app(engine, tmp_path, max_vanished_share="0.75", max_vanished_min=1)
    result = run_sync(looser, "erp", streams=MASTER)
    assert result.status == "succeeded", result.message
    assert live(looser)[1] == {"P-1000.01"}


def test_over_odata_a_project_and_an_element_gone_from_the_services_are_deleted(
    engine: Engine, tmp_path: Path
) -> None:
    from pmo_ledger.connectors.sap.sandbox.system import SapSystem

    with SapConnector.sandbox(SandboxOptions(page_size=25)) as sandbox:
        settings: dict[str, Any] = {"kind": "sap", **sandbox.settings}
        a = app_reading(engine, tmp_path, settings)
        first = run_sync(a, "erp", streams=MASTER)
        assert first.status == "succeeded", first.message
        projects, tasks = live(a)
        assert {"PRJ-0001", "PRJ-0006", "PRJ-0001.1"} <= projects | tasks
        database = next(line for line in sandbox.lines if "tables" in line).split()[-1]
        system = SapSystem(database)
        try:
            six = next(p for p in system.rows("PROJ") if p["PSPID"] == "PRJ-0006")
            system.delete("PRPS", {"PSPHI": six["PSPNR"]})
            system.delete("PROJ", {"PSPID": "PRJ-0006"})
            system.delete("PRPS", {"POSID": "PRJ-0001.1"})
        finally:
            system.close()
        result = run_sync(a, "erp", streams=MASTER)
        assert result.status == "succeeded", result.message
    after_projects, after_tasks = live(a)
    assert after_projects == projects - {"PRJ-0006"}
    gone = {t for t in tasks if t == "PRJ-0001.1" or t.startswith("PRJ-0006")}
    assert len(gone) >= 2 and after_tasks == tasks - gone
