"""The Salesforce connector's fields against an org that lacks some (issue 16, item 4), end to
end on SQLite and PostgreSQL: a missing required field stops its stream alone, an optional one
is dropped with one warning, an optional role can be unset, a required one cannot."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.salesforce import SalesforceConnector, SalesforceSettings
from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, Project, SyncRunStream
from tests.connectors.salesforce.psa_org import PsaOrg, ledger_totals, sandbox_app


def queries(server: SandboxServer, sobject: str) -> list[str]:
    """The SOQL of every query and queryAll the sandbox answered that reads `sobject`."""
    texts = [r.params["q"][0] for r in server.requests if r.params.get("q")]
    return [q for q in texts if f"FROM {sobject}" in q]


def statuses(app_result_run: int | None, engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(SyncRunStream.stream, SyncRunStream.status).where(
                SyncRunStream.run_id == app_result_run
            )
        )
        return {stream: status for stream, status in rows}


MISSING_COST = (
    "stream timecards: the org does not list pse__Timecard__c.pse__Total_Cost__c "
    "(amount = 'pse__Total_Cost__c'), which the stream needs; map it to the org's field: "
    '[connectors.crm.streams.timecards.fields] amount = "<field of pse__Timecard__c>"'
)


def test_a_required_field_the_org_lacks_stops_its_stream_alone(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """pse__Total_Cost__c is not in this org: timecards stop before any query, naming the
    field and the key to set; every other stream loads and the run ends partial."""
    psa.org.drop_field("pse__Timecard__c", "pse__Total_Cost__c")
    app = sandbox_app(engine, tmp_path, server)
    result = run_sync(app, "crm")
    assert result.status == "partial"
    assert result.message == f"timecards: {MISSING_COST}"
    timecards = next(s for s in result.streams if s.stream == "timecards")
    assert (timecards.status, timecards.message) == ("failed", MISSING_COST)
    assert {s: st for s, st in statuses(result.run_id, engine).items() if st != "succeeded"} == {
        "timecards": "failed"
    }
    assert len(result.streams) == 10
    assert queries(server, "pse__Timecard__c") == []  # describe stopped it before a query
    assert ledger_totals(app, ("expenses",)) == psa.source_totals(("expenses",))
    assert ledger_totals(app, ("timecards",)) == {}


def test_a_query_the_org_refuses_fails_its_stream_with_the_fix(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """A `where` naming a field the org lacks gets the org's INVALID_FIELD answer: that stream
    fails with the org's message and the key to fix; the others load."""
    app = sandbox_app(
        engine, tmp_path, server, streams={"expenses": {"where": "pse__Billable__c = true"}}
    )
    result = run_sync(app, "crm")
    assert result.status == "partial"
    expenses = next(s for s in result.streams if s.stream == "expenses")
    assert expenses.status == "failed"
    message = expenses.message or ""
    # The org's own answer, which quotes the query and points at the column, then the fix.
    assert message.startswith("stream expenses: query: INVALID_FIELD: \nSELECT Id, ")
    assert (
        "\nNo such column 'pse__Billable__c' on entity 'pse__Expense__c'. If you are attempting "
        "to use a custom field, be sure to append the '__c' after the custom field name. "
        "Please reference your WSDL or the describe call for the appropriate names. (check "
        "the stream's object and field mapping and the permission set's field access); fix: "
        "[connectors.crm.streams.expenses] object, fields or where"
    ) in message
    assert message.endswith("object, fields or where")
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))


def test_an_optional_field_the_org_lacks_is_skipped_with_one_warning(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """No percent complete on projects, no practice lookup on contacts: one warning per field
    and stream, the streams load without them, the run succeeds."""
    psa.org.drop_field("pse__Proj__c", "pse__Percent_Hours_Complete__c")
    psa.org.drop_field("Contact", "pse__Practice__c")
    app = sandbox_app(engine, tmp_path, server)
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    warned = [
        (e["stream"], e["sobject"], e["field"], e["role"])
        for e in logs
        if e["event"] == "salesforce_field_missing"
    ]
    assert warned == [
        ("projects", "pse__Proj__c", "pse__Percent_Hours_Complete__c", "percent_complete"),
        ("resources", "Contact", "pse__Practice__r.Name", "department"),
    ]
    assert all("pse__Percent_Hours_Complete__c" not in q for q in queries(server, "pse__Proj__c"))
    assert all("pse__Practice__r" not in q for q in queries(server, "Contact"))
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(Project).where(Project.id != 0)) == 3
        assert s.scalar(select(func.count()).select_from(ActualLine)) == 12
    assert ledger_totals(app) == psa.source_totals()


def test_an_optional_field_unset_in_config_is_never_asked_for(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """`fields = { percent_complete = "" }`: no query names the field, the project loads
    without a percent although the org has one."""
    psa.org.update("pse__Proj__c", psa.projects["P1"], pse__Percent_Hours_Complete__c="12.5")
    app = sandbox_app(
        engine, tmp_path, server, streams={"projects": {"fields": {"percent_complete": ""}}}
    )
    assert run_sync(app, "crm", streams=["projects"]).status == "succeeded"
    reads = queries(server, "pse__Proj__c")
    assert reads and all("pse__Percent_Hours_Complete__c" not in q for q in reads)
    with app.reading() as s:
        p1 = s.scalars(select(Project).where(Project.code == "P1")).one()
        assert (p1.name, p1.percent_complete) == ("Project P1", None)
    # The same org without the override loads the percent (the field is really there).
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm", streams=["projects"], full=True).status == "succeeded"
    with app.reading() as s:
        p1 = s.scalars(select(Project).where(Project.code == "P1")).one()
        assert p1.percent_complete == Decimal("12.5")


def test_a_required_role_cannot_be_unset_and_an_unknown_one_is_refused() -> None:
    """`amount = ""` on timecards and a role the stream does not have are config errors when
    the connector is built, one line each naming the key."""
    settings = SalesforceSettings.model_validate(
        {
            "access_token": "t",
            "instance_url": "https://example.my.salesforce.com",
            "streams": {
                "timecards": {"fields": {"amount": "", "description": ""}},
                "projects": {"fields": {"percent": "X__c", "program": ""}},
            },
        }
    )
    with pytest.raises(ConnectorConfigError) as exc:
        SalesforceConnector(settings, ConnectorContext("crm"))
    assert str(exc.value).splitlines() == [
        "connectors.crm.streams.timecards.fields.amount: stream timecards needs its amount "
        'field, it cannot be unset; map it to the org\'s field instead (amount = "Field__c")',
        "connectors.crm.streams.projects.fields.percent: stream projects has no role 'percent' "
        "(roles: code, currency, finish, manager, name, percent_complete, portfolio, program, "
        "start, status)",
    ]


def test_a_field_path_that_is_not_one_is_refused_and_empty_unsets() -> None:
    """A field value that is neither a field path nor "" is refused with the hint."""
    with pytest.raises(ValueError, match=r"not a field path: amount = 'a b' \(\"\" unsets"):
        SalesforceSettings.model_validate(
            {
                "access_token": "t",
                "instance_url": "https://example.my.salesforce.com",
                "streams": {"timecards": {"fields": {"amount": "a b"}}},
            }
        )


def test_a_stream_whose_object_the_org_lacks_fails_alone(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """`object = "pse__Nothing__c"`: describe answers NOT_FOUND, that stream fails with the
    keys to fix, the others load."""
    app = sandbox_app(engine, tmp_path, server, streams={"expenses": {"object": "pse__Nothing__c"}})
    result = run_sync(app, "crm")
    assert result.status == "partial"
    expenses = next(s for s in result.streams if s.stream == "expenses")
    assert expenses.message == (
        "stream expenses: the org has no object pse__Nothing__c (or the integration user cannot "
        'read it); set [connectors.crm.streams.expenses] object = "<the org\'s object>", or '
        "enabled = false"
    )
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
