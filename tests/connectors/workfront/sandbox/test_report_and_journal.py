"""Report sums equal to what the fake holds, and the journal of deletions: mutation rounds
through the sandbox's handle, read back over HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx

from pmo_ledger.connectors.workfront.sandbox import DemoSeed, FakeWorkfront, WorkfrontSandbox


def _report(api: httpx.Client, obj: str, number: str, **params: str) -> dict[str, object]:
    query = {"projectID_1_GroupBy": "true", f"{number}_AggFunc": "sum", **params}
    data: dict[str, object] = api.get(f"{obj}/report", params=query).json(parse_float=Decimal)[
        "data"
    ]
    return data


def _sums(report: dict[str, object], number: str) -> dict[str | None, Decimal]:
    return {
        (None if key == "null" else key): Decimal(value[f"sum_{number}"])  # type: ignore[index]
        for key, value in report.items()
        if key != "$$ROLLUP"
    }


def test_report_hours_per_project_equal_the_seed(
    api: httpx.Client, server: WorkfrontSandbox
) -> None:
    """hours_AggFunc=sum grouped by projectID equals the held totals (no-project hours under
    "null"); $$ROLLUP is the grand total."""
    report = _report(api, "HOUR", "hours", **{"$$ROLLUP": "true"})
    held = server.totals("HOUR", "hours")
    assert _sums(report, "hours") == held
    assert report["$$ROLLUP"] == {"sum_hours": sum(held.values())}
    assert held[None] == Decimal("4.5")


def test_report_honours_filters(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """status=APP restricts the report to approved hours."""
    report = _report(api, "HOUR", "hours", status="APP")
    assert _sums(report, "hours") == server.totals("HOUR", "hours", where={"status": "APP"})


def test_report_by_project_name_in_documented_shape(
    api: httpx.Client, store: FakeWorkfront
) -> None:
    """project:name_1_GroupBy=true keys the groups by the project's name (api-basics.md)."""
    report = api.get(
        "EXPNS/report", params={"project:name_1_GroupBy": "true", "actualAmount_AggFunc": "sum"}
    ).json(parse_float=Decimal)["data"]
    name = "PRJ-0006 Initech Security Assessment"
    project = next(r for r in store.rows("PROJ") if r["name"] == name)
    expected = sum(
        r["actualAmount"] for r in store.rows("EXPNS") if r["projectID"] == project["ID"]
    )
    assert report[name] == {"sum_actualAmount": expected}


def test_totals_follow_mutation_rounds(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed
) -> None:
    """Add, change, delete and re-status hours and expenses over three rounds: the report
    always equals the held totals, and the held totals move by exactly the changes."""
    project = seed.projects["PRJ-0002"]
    task = seed.tasks[project][0]
    before = server.totals("HOUR", "hours")[project]
    added = server.add_hour(
        hours=Decimal("6.25"),
        entryDate=date(2025, 6, 27),
        projectID=project,
        taskID=task,
        ownerID=seed.users[2],
        status="SUB",
    )
    assert server.totals("HOUR", "hours")[project] == before + Decimal("6.25")
    assert _sums(_report(api, "HOUR", "hours"), "hours") == server.totals("HOUR", "hours")
    server.change_hour(added, hours=Decimal("7"))
    server.set_hour_status(added, "APP")
    assert server.totals("HOUR", "hours")[project] == before + Decimal(7)
    assert _sums(_report(api, "HOUR", "hours"), "hours") == server.totals("HOUR", "hours")
    server.delete_hour(added)
    expense = server.add_expense(
        actualAmount=Decimal("99.99"),
        effectiveDate=date(2025, 6, 2),
        projectID=project,
        description="Taxi",
    )
    server.delete_expense(expense)
    assert server.totals("HOUR", "hours")[project] == before
    assert _sums(_report(api, "HOUR", "hours"), "hours") == server.totals("HOUR", "hours")
    assert _sums(_report(api, "EXPNS", "actualAmount"), "actualAmount") == server.totals(
        "EXPNS", "actualAmount"
    )


def test_deleted_hour_is_gone_and_journaled(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed, store: FakeWorkfront
) -> None:
    """A deleted hour is not found any more; JRNLE has a D entry with subObjCode HOUR, its
    ID as subObjID, its task as objID, its hours as oldNumberVal and the deletion's time."""
    hour_id = seed.logged_hours[10]
    if hour_id in seed.deleted_hours:
        hour_id = seed.logged_hours[11]
    old = store.get("HOUR", hour_id)
    since = store.now()
    server.delete_hour(hour_id)
    assert api.get(f"HOUR/{hour_id}").status_code == 404
    assert api.get("HOUR/count", params={"ID": hour_id}).json() == {"data": {"count": 0}}
    entries = api.get(
        "JRNLE/search",
        params={
            "subObjCode": "HOUR",
            "changeType": "D",
            "entryDate": since.isoformat(),
            "entryDate_Mod": "gt",
            "fields": "changeType,subObjCode,subObjID,objObjCode,objID,oldNumberVal,entryDate",
            "ID_Sort": "asc",
        },
    ).json(parse_float=Decimal)["data"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["changeType"], entry["subObjCode"], entry["subObjID"]) == ("D", "HOUR", hour_id)
    assert (entry["objObjCode"], entry["objID"]) == ("TASK", old["taskID"])
    assert Decimal(entry["oldNumberVal"]) == old["hours"]


def test_seed_deletions_and_relogs_are_journaled(api: httpx.Client, seed: DemoSeed) -> None:
    """The seed's five deleted hours each have a D entry; their re-logs are new IDs."""
    entries = api.get(
        "JRNLE/search",
        params={"subObjCode": "HOUR", "changeType": "D", "fields": "subObjID", "$$LIMIT": "2000"},
    ).json()
    assert sorted(e["subObjID"] for e in entries["data"]) == sorted(seed.deleted_hours)
    assert not set(seed.relogged_hours) & set(seed.deleted_hours)
    found = api.get(
        "HOUR/count", params=[*(("ID", i) for i in seed.relogged_hours), ("ID_Mod", "in")]
    ).json()
    assert found == {"data": {"count": 5}}


def test_expense_deletion_is_journaled(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed
) -> None:
    """Deleting an expense writes a JRNLE entry with subObjCode EXPNS and its amount."""
    expense = server.add_expense(
        actualAmount=Decimal("42.10"),
        effectiveDate=date(2025, 6, 2),
        projectID=seed.projects["PRJ-0003"],
        description="Meals",
    )
    server.delete_expense(expense)
    entries = api.get(
        "JRNLE/search",
        params={
            "subObjCode": "EXPNS",
            "subObjID": expense,
            "fields": "changeType,oldNumberVal,newNumberVal",
            "changeType_Sort": "asc",
        },
    ).json(parse_float=Decimal)["data"]
    assert [(e["changeType"], e["oldNumberVal"], e["newNumberVal"]) for e in entries] == [
        ("A", None, Decimal("42.10")),
        ("D", Decimal("42.10"), None),
    ]


def test_journal_disabled_refuses_jrnle(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed
) -> None:
    """With the journal off, reading JRNLE is a 403 error body and deletions leave no entry;
    search still works (the scan fallback)."""
    server.disable_journal()
    refused = api.get("JRNLE/search", params={"subObjCode": "HOUR"})
    assert refused.status_code == 403
    assert refused.json()["error"]["class"] == "com.attask.common.NotAllowedException"
    server.delete_hour(seed.relogged_hours[0])
    server.enable_journal()
    entries = api.get(
        "JRNLE/count", params={"subObjID": seed.relogged_hours[0], "changeType": "D"}
    ).json()
    assert entries == {"data": {"count": 0}}
    assert api.get("HOUR/count", params={"ID": seed.relogged_hours[0]}).json()["data"] == {
        "count": 0
    }


def test_journal_silent_mode_answers_nothing_new(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed
) -> None:
    """`disable_journal(refuse=False)`: JRNLE answers, but a deletion adds no entry."""
    server.disable_journal(refuse=False)
    before = api.get("JRNLE/count").json()["data"]["count"]
    server.delete_hour(seed.relogged_hours[1])
    assert api.get("JRNLE/count").json()["data"]["count"] == before


def test_touch_moves_last_update_date_only(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed, store: FakeWorkfront
) -> None:
    """touch: the hour (and only it) comes back in a lastUpdateDate > cursor read, with its
    values unchanged."""
    hour_id = seed.relogged_hours[2]
    old = store.get("HOUR", hour_id)
    cursor = store.now().isoformat()
    server.touch("HOUR", hour_id)
    rows = api.get(
        "HOUR/search",
        params={"lastUpdateDate": cursor, "lastUpdateDate_Mod": "gt", "fields": "hours"},
    ).json(parse_float=Decimal)["data"]
    assert [r["ID"] for r in rows] == [hour_id]
    assert Decimal(rows[0]["hours"]) == old["hours"]


def test_hour_edit_is_journaled_with_old_and_new(
    api: httpx.Client, server: WorkfrontSandbox, seed: DemoSeed
) -> None:
    """Changing an hour's hours writes an E entry with oldNumberVal and newNumberVal."""
    hour_id = seed.relogged_hours[3]
    old = server.store.get("HOUR", hour_id)["hours"]
    server.change_hour(hour_id, hours=Decimal("9.5"))
    entries = api.get(
        "JRNLE/search",
        params={"subObjID": hour_id, "changeType": "E", "fields": "oldNumberVal,newNumberVal"},
    ).json(parse_float=Decimal)["data"]
    assert [(e["oldNumberVal"], e["newNumberVal"]) for e in entries] == [(old, Decimal("9.5"))]
