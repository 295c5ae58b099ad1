"""Second review of the SAP connector: budgets across currencies, the release turned off or
left out of the budget, the budget ledger and first year, SSO logon tickets as secrets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.kit.pages import Marked
from pmo_ledger.connectors.sap import SapConnector, SapSettings
from pmo_ledger.connectors.sap.budgets import Element, own_budgets
from pmo_ledger.connectors.sap.listing import token
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import BudgetLine, BudgetVersion
from pmo_ledger.ledger.records import TaskRecord
from tests.connectors.sap import stub_rfc
from tests.connectors.sap.sap_system import app, app_reading, settings
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_deletions import MASTER, live
from tests.connectors.sap.test_review import bpge
from tests.connectors.sap.test_sync import WBS_11

STREAMS = ["projects", "tasks", "budgets"]


def test_a_child_budgeted_in_another_currency_is_subtracted_once_in_the_parents() -> None:
    """Parent (EUR) budget 1000 of which it distributed EUR 400 to a child whose budget is
    kept in its object currency (USD 440; BPGE WLGES 400 in the ledger currency)."""
    by_objnr = {"PR00000001": Element("P.1", "P", None),
                "PR00000002": Element("P.1.1", "P", "PR00000001")}  # fmt: skip
    rows = [
        {"OBJNR": "PR00000001", "VORGA": "KBUD", "WRTTP": "41", "TWAER": "EUR",
         "WTGES": "1000.00", "WLGES": "1000.00"},
        {"OBJNR": "PR00000002", "VORGA": "KBUD", "WRTTP": "41", "TWAER": "USD",
         "WTGES": "440.00", "WLGES": "400.00"},
    ]  # fmt: skip
    own = own_budgets(rows, by_objnr, ["KBUD"], value_type="41")
    assert own == {("PR00000001", "EUR", ""): Decimal("600.00"),
                   ("PR00000002", "USD", ""): Decimal("440.00")}  # fmt: skip


def test_a_parent_in_usd_converts_its_childs_ledger_value_at_its_own_rate() -> None:
    """Ledger currency EUR: the parent USD 1100 (EUR 1000) gave EUR 400 (USD 440) to a child
    in EUR; the parent's own share is USD 660, the child's EUR 400."""
    by_objnr = {"PR00000001": Element("P.1", "P", None),
                "PR00000002": Element("P.1.1", "P", "PR00000001")}  # fmt: skip
    rows = [
        {"OBJNR": "PR00000001", "VORGA": "KBUD", "TWAER": "USD", "WTGES": "1100.00",
         "WLGES": "1000.00"},
        {"OBJNR": "PR00000002", "VORGA": "KBUD", "TWAER": "EUR", "WTGES": "400.00",
         "WLGES": "400.00"},
    ]  # fmt: skip
    own = own_budgets(rows, by_objnr, ["KBUD"])
    assert own[("PR00000001", "USD", "")] == Decimal("660.00")


def test_budget_activities_empty_counts_every_activity_but_the_release() -> None:
    by_objnr = {"PR00000001": Element("P.1", "P", None)}
    rows = [
        {"OBJNR": "PR00000001", "VORGA": v, "WRTTP": "41", "TWAER": "EUR", "WTGES": a}
        for v, a in (("KBUD", "1000.00"), ("KBN0", "50.00"), ("KBFR", "700.00"))
    ]
    assert own_budgets(rows, by_objnr, [], value_type="41") == {
        ("PR00000001", "EUR", ""): Decimal("1050.00")
    }
    assert own_budgets(rows, by_objnr, [], value_type="41", exclude=["KBN0"]) == {
        ("PR00000001", "EUR", ""): Decimal("1700.00")
    }


def test_turning_the_release_off_deletes_the_released_versions(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    system.tables["BPGE"].rows += [bpge(WBS_11, "KBUD", "1000.00"), bpge(WBS_11, "KBFR", "100.00")]
    a = app(engine, tmp_path)
    assert run_sync(a, "erp", streams=STREAMS).status == "succeeded"
    with a.reading() as s:
        assert list(s.scalars(select(BudgetVersion.external_id).where(
            BudgetVersion.kind == "released", BudgetVersion.deleted_at.is_(None)))) == [
            "P-1000/released"]  # fmt: skip
    off = app(engine, tmp_path, release_activities=[])
    assert run_sync(off, "erp", streams=STREAMS).status == "succeeded"
    with off.reading() as s:
        live = list(s.scalars(select(BudgetVersion.external_id).where(
            BudgetVersion.deleted_at.is_(None))))  # fmt: skip
    assert live == ["P-1000/current"]


def test_the_release_and_budget_settings_are_in_the_read_fingerprint() -> None:
    def printed(**extra: object) -> str | None:
        table = {k: v for k, v in settings(**extra).items() if k != "kind"}
        connector = SapConnector(SapSettings.model_validate(table), ConnectorContext("erp"))
        return connector.read_fingerprint("actuals")

    default = printed()
    assert printed(release_activities=["KBFR"]) == default  # the defaults print as before
    assert printed(release_activities=[]) != default
    assert printed(budget_activities=["KBUD"]) != default
    assert printed(budget_ledger="0002") != default


def test_budgets_are_read_from_the_budget_ledger_only(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """BPGE holds a second ledger (LEDNR 0002) repeating the budget: it is not counted."""
    system.tables["BPGE"].rows += [
        bpge(WBS_11, "KBUD", "1000.00"),
        {**bpge(WBS_11, "KBUD", "1000.00"), "LEDNR": "0002"},
    ]
    a = app(engine, tmp_path)
    assert run_sync(a, "erp", streams=STREAMS).status == "succeeded"
    with a.reading() as s:
        total = s.scalar(
            select(func.sum(BudgetLine.amount))
            .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
            .where(BudgetVersion.kind == "current", BudgetLine.deleted_at.is_(None))
        )
    assert total == Decimal("1000.00")
    reads = [c for c in system.calls if c.get("QUERY_TABLE") == "BPGE" and c["NO_DATA"] != "X"]
    assert any("LEDNR = '0001'" in "".join(o["TEXT"] for o in c["OPTIONS"]) for c in reads)


def test_first_year_leaves_earlier_years_out_of_the_overall_budget() -> None:
    """Overall 1000: 2024 300, 2025 700. With first_year 2025 the budget is 2025's 700 and no
    overall rest (before: 700 for 2025 and a rest of 300 holding 2024)."""
    by_objnr = {"PR00000001": Element("P.1", "P", None)}
    overall = [{"OBJNR": "PR00000001", "VORGA": "KBUD", "TWAER": "EUR", "WTGES": "1000.00"}]
    annual = [{"OBJNR": "PR00000001", "VORGA": "KBUD", "TWAER": "EUR", "GJAHR": y, "WTGES": a}
              for y, a in (("2024", "300.00"), ("2025", "700.00"))]  # fmt: skip
    own = own_budgets(overall, by_objnr, ["KBUD"], annual=annual, first_year=2025)
    assert own == {("PR00000001", "EUR", "2025"): Decimal("700.00")}


def test_sso_tickets_and_certificates_are_secrets_never_logged(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """mysapsso2 / x509cert log on as the user: masked like a password, readable from a file."""
    ticket = tmp_path / "ticket"
    ticket.write_text("AjQxMDMBABhQAE0ATwAgACAAIAAgACAAIAAgACAAIAACAAYxADAAMAADABBU\n")
    table = settings()
    table["rfc"] = {**table["rfc"], "mysapsso2_file": str(ticket), "x509cert": "MIIC-CERT-BODY"}
    a = app_reading(engine, tmp_path, table)
    kept = a.config.connectors["erp"].settings
    assert "AjQxMDMB" not in repr(kept) and "MIIC-CERT-BODY" not in repr(kept)
    sap = SapSettings.model_validate({k: v for k, v in kept.items() if k != "kind"})
    assert "AjQxMDMB" not in repr(sap) and "MIIC-CERT-BODY" not in repr(sap)
    assert sap.logon()["mysapsso2"].startswith("AjQxMDMB")
    assert sap.logon()["x509cert"] == "MIIC-CERT-BODY"
    system.password = "other"  # the logon fails: the error is logged
    with structlog.testing.capture_logs() as logs:
        result = run_sync(a, "erp", streams=["projects"])
    assert result.status == "failed"
    text = repr(logs) + (result.message or "")
    assert logs and "AjQxMDMB" not in text and "MIIC-CERT-BODY" not in text


def test_the_run_history_and_the_log_keep_a_summary_of_a_listing_token(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """The listing's token holds every key: sync_state keeps it whole, while each run's
    sync_run_stream.checkpoint and the sync_stream_started line hold its start, length and
    hash (90,000 POSIDs would make 270 KB a run)."""
    from pmo_ledger.connectors.base import Cursor
    from pmo_ledger.connectors.sap.listing import remembered
    from pmo_ledger.ledger.models import SyncRunStream, SyncState

    a = app(engine, tmp_path)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert run_sync(a, "erp", streams=["tasks"]).status == "succeeded"
    with a.reading() as s:
        kept = list(s.scalars(select(SyncRunStream.checkpoint).where(
            SyncRunStream.stream == "tasks").order_by(SyncRunStream.run_id)))  # fmt: skip
        state = s.scalar(select(SyncState.checkpoint).where(SyncState.stream == "tasks"))
    assert remembered(Cursor.from_json(state)) == {
        "P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02"}  # fmt: skip
    whole = Cursor.from_json(state).value
    assert len(kept) == 3
    for c in kept:  # the same keys; the read's time (its start) may differ
        value = str(Cursor.from_json(c).value)
        assert c["kind"] == "token" and remembered(Cursor.from_json(c)) is None
        assert " listed:" in value and f"… ({len(str(whole))} chars, sha256 " in value
        assert len(value) < 100
    assert str(Cursor.from_json(kept[-1]).value).startswith(str(whole)[:40])
    started = [e["cursor"] for e in logs if e["event"] == "sync_stream_started"]
    assert len(started) == 3 and started[0] is None  # the first run starts with none
    assert [c["value"] for c in started[1:]] == [c["value"] for c in kept[:2]]


def test_a_wbs_element_deleted_between_two_prps_pages_deletes_only_itself(
    engine: Engine, tmp_path: Path, system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ROWSKIPS paging: P-1000.01 is deleted (CJ20N, no costs yet) after PRPS page 1 was
    read; page 2 then skips P-2000.01, which still exists. The key the read missed is read
    again by POSID and found, so it stays; the next read deletes P-1000.01."""
    a = app(engine, tmp_path, page_rows=2)
    assert run_sync(a, "erp", streams=MASTER).status == "succeeded"
    assert live(a)[1] == {"P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02"}
    read = stub_rfc.Connection._read
    state = {"armed": True}

    def glitch(self: Any, **p: Any) -> dict[str, Any]:
        out = read(self, **p)
        if (p["QUERY_TABLE"] == "PRPS" and p["NO_DATA"] != "X" and p["ROWSKIPS"] == 0
                and state["armed"] and len(p["FIELDS"]) > 2):  # fmt: skip
            state["armed"] = False  # the user deletes P-1000.01 while page 2 is pending
            rows = system.tables["PRPS"].rows
            rows[:] = [r for r in rows if r["POSID"] != "P-1000.01"]
        return out

    monkeypatch.setattr(stub_rfc.Connection, "_read", glitch)
    with structlog.testing.capture_logs() as logs:
        result = run_sync(a, "erp", streams=["tasks"])
    assert result.status == "succeeded", result.message
    assert live(a)[1] == {"P-1000.01", "P-1000.02", "P-2000.01", "P-2000.02"}
    again = [e for e in logs if e["event"] == "sap_missing_keys_read_again"]
    assert [(e["missing"], e["found"]) for e in again] == [(1, 1)]
    options = ["".join(o["TEXT"] for o in c["OPTIONS"]) for c in system.calls
               if c.get("QUERY_TABLE") == "PRPS" and "POSID" in "".join(
                   o["TEXT"] for o in c.get("OPTIONS", []))]  # fmt: skip
    assert options and "POSID = 'P-2000.01'" in options[-1]
    monkeypatch.undo()
    assert run_sync(a, "erp", streams=["tasks"]).status == "succeeded"
    assert live(a)[1] == {"P-1000.02", "P-2000.01", "P-2000.02"}


def test_over_odata_a_listing_is_read_in_key_order_and_a_skipped_row_read_again() -> None:
    """Server paging without a stable order repeats PRJ-0001.2 and skips PRJ-0001.3: the
    listing asks `$orderby` on the key, reads the missed key again by `$filter` and deletes
    nothing (PRJ-0001.3 still exists)."""
    import httpx

    from pmo_ledger.connectors.base import ReadRequest
    from tests.connectors.sap.test_odata import ELEMENTS, FakeS4, connector

    class Skipping(FakeS4):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/A_EnterpriseProjectElement"):
                self.requests.append(request)
                flt = request.url.params.get("$filter")
                if flt is None:  # the full read: page 2 repeats .2, .3 is never sent
                    rows = [ELEMENTS[0], ELEMENTS[1], ELEMENTS[1]]
                else:
                    rows = [e for e in ELEMENTS if f"'{e['ProjectElement']}'" in flt]
                return httpx.Response(200, json={"d": {"results": rows}})
            return super().__call__(request)

    fake = Skipping()
    c = connector(fake)
    before = token(["PRJ-0001.1", "PRJ-0001.2", "PRJ-0001.3"])
    pages = list(c.extract("tasks", ReadRequest(checkpoint=before)))
    assert [d for p in pages for d in p.deletions] == []
    listed = {r.external_id for p in pages for r in p.records if isinstance(r, TaskRecord)}
    assert listed == {"PRJ-0001.1", "PRJ-0001.2", "PRJ-0001.3"}
    asked = [r.url.params for r in fake.requests if "EnterpriseProject" in r.url.path]
    assert {p.get("$orderby") for p in asked if "$filter" not in p} == {
        "ProjectUUID", "ProjectElementUUID"}  # fmt: skip
    assert [p["$filter"] for p in asked if "$filter" in p] == [
        "(ProjectElement eq 'PRJ-0001.3')"]  # fmt: skip


def test_a_listing_that_lists_a_key_twice_deletes_nothing() -> None:
    """Server-driven paging without order: page 2 repeats B and skips C. C still exists."""
    from pmo_ledger.connectors.sap.listing import listing

    keys = token(["A", "B", "C", "D"])
    read = listing(keys, name="s4", stream="tasks", share=Decimal("0.5"), minimum=0)
    tasks = [TaskRecord(external_id=k, project_ref="P", name=k) for k in "ABBD"]
    out = list(read.items(tasks))
    assert [i for i in out if not isinstance(i, TaskRecord)] == [] and read.twice == ["B"]
    once = listing(keys, name="s4", stream="tasks", share=Decimal("0.5"), minimum=0)
    gone = [i.item for i in once.items(tasks[:1] + tasks[2:]) if not isinstance(i, TaskRecord)]
    assert gone == ["C"]  # listed once each: C is deleted


def test_forty_of_forty_one_projects_vanishing_trip_the_default_guard() -> None:
    """The default minimum (5) no longer hides a small system losing nearly everything."""
    from pmo_ledger.connectors.sap.listing import MassDeletion, listing
    from pmo_ledger.ledger.records import ProjectRecord

    defaults = SapSettings.model_validate({k: v for k, v in settings().items() if k != "kind"})
    assert (defaults.max_vanished_share, defaults.max_vanished_min) == (Decimal("0.05"), 5)
    before = token([f"P-{n:04d}" for n in range(41)])
    guard = listing(before, name="erp", stream="projects", share=defaults.max_vanished_share,
                    minimum=defaults.max_vanished_min)  # fmt: skip
    with pytest.raises(MassDeletion, match="40 would be deleted"):
        list(guard.items([ProjectRecord(external_id="P-0000", code="P-0000", name="x")]))
    five = listing(before, name="erp", stream="projects", share=defaults.max_vanished_share,
                   minimum=defaults.max_vanished_min)  # fmt: skip
    kept = [ProjectRecord(external_id=f"P-{n:04d}", code=f"P-{n:04d}", name="x")
            for n in range(5, 41)]  # fmt: skip
    assert [i.item for i in five.items(kept) if isinstance(i, Marked)] == [
        "P-0000", "P-0001", "P-0002", "P-0003", "P-0004"]  # fmt: skip
