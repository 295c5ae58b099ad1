"""Changes in the org and the server's knobs, seen through the real client: stamps, deletes,
queryAll, getDeleted and purges, cursor snapshots, API limits, injected failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from pmo_ledger.connectors.salesforce.sandbox import FakeOrg, SandboxServer, TlsFiles
from tests.connectors.salesforce.sandbox_support import login, small_org

PROJECTS = "SELECT Name, IsDeleted FROM pse__Proj__c ORDER BY Name"


@pytest.fixture
def org_ids() -> tuple[FakeOrg, dict[str, str]]:
    return small_org()


@pytest.fixture
def server(tls: TlsFiles, org_ids: tuple[FakeOrg, dict[str, str]]) -> Iterator[SandboxServer]:
    with SandboxServer(org_ids[0], tls=tls) as running:
        yield running


@pytest.fixture
def sf(server: SandboxServer) -> Salesforce:
    return login(server)


def test_writes_move_the_stamps_they_should(org_ids: tuple[FakeOrg, dict[str, str]]) -> None:
    """update moves both stamps, system_update only SystemModstamp, update_silently none."""
    org, ids = org_ids
    start = org.now()

    def stamps(key: str) -> tuple[object, object]:
        row = org.get("pse__Proj__c", ids[key])
        return row["LastModifiedDate"], row["SystemModstamp"]

    beta = stamps("P2")
    org.update("pse__Proj__c", ids["P1"], Name="Alpha 2")
    assert stamps("P1") == (start + timedelta(seconds=1),) * 2
    org.system_update("pse__Proj__c", ids["P1"], pse__Stage__c="In Progress")
    assert stamps("P1") == (start + timedelta(seconds=1), start + timedelta(seconds=2))
    org.update_silently("pse__Proj__c", ids["P2"], Name="Beta (renamed)")
    assert org.get("pse__Proj__c", ids["P2"])["Name"] == "Beta (renamed)"
    assert stamps("P2") == beta
    assert org.now() == start + timedelta(seconds=2)


def test_query_all_returns_deleted_rows(
    sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """A deleted record is gone from query and comes back from queryAll with IsDeleted."""
    org, ids = org_ids
    org.delete("pse__Proj__c", ids["P2"])
    live = [(r["Name"], r["IsDeleted"]) for r in sf.query_all(PROJECTS)["records"]]
    everything = sf.query_all(PROJECTS, include_deleted=True)["records"]
    assert live == [("Alpha", False), ("Gamma", False)]
    assert [(r["Name"], r["IsDeleted"]) for r in everything] == [
        ("Alpha", False),
        ("Beta", True),
        ("Gamma", False),
    ]


def test_query_all_pages_through_query_locators(
    server: SandboxServer, sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """queryAll pages with a nextRecordsUrl on /query/, as Salesforce sends it."""
    org, ids = org_ids
    org.delete("pse__Proj__c", ids["P3"])
    server.page_size = 2
    first = sf.query(PROJECTS, include_deleted=True)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/0r8")
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert [r["Name"] for r in first["records"] + rest["records"]] == ["Alpha", "Beta", "Gamma"]
    assert rest["records"][0]["IsDeleted"] is True


def test_a_cursor_is_a_snapshot(
    server: SandboxServer, sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """Writes after a query do not change the pages of its cursor."""
    org, ids = org_ids
    server.page_size = 1
    first = sf.query(PROJECTS)
    org.update("pse__Proj__c", ids["P2"], Name="Zeta")
    org.insert("pse__Proj__c", Name="Aardvark")
    names = [r["Name"] for r in first["records"]]
    page = first
    while not page["done"]:
        page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        names += [r["Name"] for r in page["records"]]
    assert names == ["Alpha", "Beta", "Gamma"]
    assert page["totalSize"] == 3


def test_get_deleted_and_purge(sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]) -> None:
    """getDeleted lists deletions in the window; a purge moves earliestDateAvailable and the
    purged record leaves queryAll."""
    org, ids = org_ids
    start = org.now()
    deleted_at = org.delete("pse__Proj__c", ids["P2"])
    org.advance(timedelta(minutes=2))
    end = org.now()
    result = sf.pse__Proj__c.deleted(start, end)
    assert result["deletedRecords"] == [
        {"id": ids["P2"], "deletedDate": deleted_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
    ]
    assert result["latestDateCovered"] == end.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    assert result["earliestDateAvailable"] == "2025-01-02T08:00:00.000+0000"
    assert org.purge_delete_log(before=end) == 1
    after = sf.pse__Proj__c.deleted(start, end)
    assert after["deletedRecords"] == []
    assert after["earliestDateAvailable"] == end.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    everything = sf.query_all(PROJECTS, include_deleted=True)["records"]
    assert [r["Name"] for r in everything] == ["Alpha", "Gamma"]


def test_undelete_restores_the_record(
    sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """An undeleted record is back in query with a newer SystemModstamp, out of getDeleted."""
    org, ids = org_ids
    start = org.now()
    org.delete("pse__Proj__c", ids["P1"])
    org.undelete("pse__Proj__c", ids["P1"])
    org.advance(timedelta(minutes=2))
    assert sf.pse__Proj__c.deleted(start, org.now())["deletedRecords"] == []
    (record,) = sf.query(f"SELECT SystemModstamp FROM pse__Proj__c WHERE Id = '{ids['P1']}'")[
        "records"
    ]
    assert record["SystemModstamp"] == (start + timedelta(seconds=2)).strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000"
    )


def test_writes_are_checked_against_the_schema() -> None:
    """Unknown fields, wrong value types and dangling lookups are refused."""
    org, ids = small_org()
    with pytest.raises(KeyError, match="no field 'Budget__c' on pse__Proj__c"):
        org.insert("pse__Proj__c", Budget__c="1")
    with pytest.raises(TypeError, match=r"not 1\.5"):
        org.update("pse__Proj__c", ids["P1"], pse__Percent_Hours_Complete__c=1.5)
    with pytest.raises(KeyError, match="no pse__Region__c a1R5g0000000009"):
        org.insert("pse__Proj__c", Name="Dangling", pse__Region__c="a1R5g0000000009")
    with pytest.raises(ValueError, match="set by the org"):
        org.update("pse__Proj__c", ids["P1"], SystemModstamp=org.now())


def test_get_deleted_refuses_a_start_beyond_15_days(
    sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """A start more than 15 days before the org clock is INVALID_REPLICATION_DATE."""
    org, _ = org_ids
    org.advance(timedelta(days=20))
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.pse__Proj__c.deleted(org.now() - timedelta(days=16), org.now())
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_get_updated_lists_ids_by_system_modstamp(
    sf: Salesforce, org_ids: tuple[FakeOrg, dict[str, str]]
) -> None:
    """getUpdated answers the ids whose SystemModstamp falls in the window."""
    org, ids = org_ids
    org.advance(timedelta(minutes=1))
    start = org.now()
    org.system_update("pse__Proj__c", ids["P3"], pse__Stage__c="Completed")
    org.advance(timedelta(minutes=1))
    result = sf.pse__Proj__c.updated(start, org.now())
    assert result["ids"] == [ids["P3"]]


def test_api_usage_header_and_limit(server: SandboxServer, sf: Salesforce) -> None:
    """Sforce-Limit-Info reaches sf.api_usage; at the limit calls are REQUEST_LIMIT_EXCEEDED."""
    server.api_limit(5, used=2)
    sf.query("SELECT Id FROM pse__Proj__c")
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (3, 5)
    assert sf.limits()["DailyApiRequests"] == {"Max": 5, "Remaining": 1}
    sf.query("SELECT Id FROM pse__Proj__c")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM pse__Proj__c")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert server.api_usage == (5, 5)


def test_injected_failures_then_recovery(server: SandboxServer, sf: Salesforce) -> None:
    """fail_next answers the next calls with the status and a JSON error list, uncounted."""
    server.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            sf.query("SELECT Id FROM pse__Proj__c")
        assert caught.value.status == 503
        assert caught.value.content == [
            {"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}
        ]
    assert sf.query("SELECT COUNT() FROM pse__Proj__c")["totalSize"] == 3
    assert server.api_usage[0] == 1


def test_single_currency_org_has_no_currency_field(tls: TlsFiles) -> None:
    """Without multi-currency, CurrencyIsoCode is INVALID_FIELD."""
    org, _ = small_org(multi_currency=False)
    with SandboxServer(org, tls=tls) as server:
        sf = login(server)
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query("SELECT Id, CurrencyIsoCode FROM pse__Proj__c")
        assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
        assert sf.query("SELECT COUNT() FROM pse__Proj__c")["totalSize"] == 3


def test_clock_moves_forward_only() -> None:
    """The org clock refuses to go back and to take naive datetimes."""
    org = FakeOrg(start=datetime(2025, 5, 1, tzinfo=UTC))
    org.set_now(datetime(2025, 5, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="does not go back"):
        org.set_now(datetime(2025, 5, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        org.set_now(datetime(2025, 6, 1))  # noqa: DTZ001 - refused on purpose
    assert org.now() == datetime(2025, 5, 2, tzinfo=UTC)


def test_a_dropped_field_leaves_describe_and_a_query_naming_it_is_invalid_field(
    org_ids: tuple[FakeOrg, dict[str, str]], sf: Salesforce
) -> None:
    """An org without a field: describe no longer lists it, a query naming it gets the org's
    INVALID_FIELD list, and the rest of the object reads as before."""
    org, ids = org_ids
    before = {f["name"] for f in sf.pse__Proj__c.describe()["fields"]}
    org.drop_field("pse__Proj__c", "pse__Percent_Hours_Complete__c")
    described = sf.pse__Proj__c.describe()
    after = {f["name"] for f in described["fields"]}
    assert before - after == {"pse__Percent_Hours_Complete__c"}
    assert described["name"] == "pse__Proj__c" and described["queryable"] is True
    start = next(f for f in described["fields"] if f["name"] == "pse__Start_Date__c")
    assert (start["type"], start["soapType"], start["nillable"]) == ("date", "xsd:date", True)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, pse__Percent_Hours_Complete__c FROM pse__Proj__c")
    assert caught.value.status == 400
    assert caught.value.content == [
        {
            "message": "\nSELECT Id, pse__Percent_Hours_Complete__c FROM pse__Proj__c\n"
            "           ^\nERROR at Row:1:Column:12\nNo such column "
            "'pse__Percent_Hours_Complete__c' on entity 'pse__Proj__c'. If you are attempting "
            "to use a custom field, be sure to append the '__c' after the custom field name. "
            "Please reference your WSDL or the describe call for the appropriate names.",
            "errorCode": "INVALID_FIELD",
        }
    ]
    rows = sf.query(f"SELECT Id, Name FROM pse__Proj__c WHERE Id = '{ids['P1']}'")["records"]
    assert [r["Name"] for r in rows] == ["Alpha"]
    with pytest.raises(KeyError, match="no field 'pse__Percent_Hours_Complete__c'"):
        org.drop_field("pse__Proj__c", "pse__Percent_Hours_Complete__c")
    with pytest.raises(ValueError, match="SystemModstamp is a system field"):
        org.drop_field("pse__Proj__c", "SystemModstamp")
