"""Search over HTTP: paging with $$FIRST/$$LIMIT, sorting (and the unstable order without
it), filters with _Mod, fields, count, and the errors Workfront gives for bad requests."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from pmo_ledger.connectors.workfront.sandbox import DemoSeed, FakeWorkfront, WorkfrontSandbox


def _pages(api: httpx.Client, size: int, **params: str) -> list[str]:
    ids: list[str] = []
    first = 0
    while True:
        query = {"$$FIRST": str(first), "$$LIMIT": str(size), "fields": "ID", **params}
        rows = api.get("HOUR/search", params=query).json()["data"]
        ids += [row["ID"] for row in rows]
        if len(rows) < size:
            return ids
        first += size


def test_paging_sorted_by_id_reads_every_row_once(api: httpx.Client, store: FakeWorkfront) -> None:
    """Pages of 50 with ID_Sort=asc return every hour exactly once, in ID order."""
    ids = _pages(api, 50, ID_Sort="asc")
    held = sorted(row["ID"] for row in store.rows("HOUR"))
    assert ids == held


def test_paging_without_a_sort_repeats_and_skips(api: httpx.Client, store: FakeWorkfront) -> None:
    """Without a sort each page comes from a new order: rows repeat and others are missed."""
    ids = _pages(api, 50)
    assert len(ids) == store.count("HOUR")
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    missed = {row["ID"] for row in store.rows("HOUR")} - set(ids)
    assert repeated and missed


def test_default_limit_is_100(api: httpx.Client) -> None:
    """Without $$LIMIT a search returns 100 rows."""
    assert len(api.get("HOUR/search").json()["data"]) == 100


@pytest.mark.parametrize("limit", ["2001", "5000"])
def test_limit_over_2000_is_an_error(api: httpx.Client, limit: str) -> None:
    """$$LIMIT above 2000 is an IllegalArgumentException error, no rows."""
    reply = api.get("HOUR/search", params={"$$LIMIT": limit})
    assert reply.status_code == 422
    assert reply.json()["error"]["class"] == "java.lang.IllegalArgumentException"
    assert "data" not in reply.json()


def test_limit_2000_is_served(api: httpx.Client, store: FakeWorkfront) -> None:
    """$$LIMIT=2000 (the maximum) returns every hour of the demo (300 logged, 3 general)."""
    rows = api.get("HOUR/search", params={"$$LIMIT": "2000"}).json()["data"]
    assert len(rows) == store.count("HOUR") == 303


def test_sort_descending_on_a_field(api: httpx.Client, store: FakeWorkfront) -> None:
    """hours_Sort=desc then ID_Sort=asc: the largest hours first, ties by ID."""
    rows = api.get(
        "HOUR/search",
        params={"hours_Sort": "desc", "ID_Sort": "asc", "$$LIMIT": "2000", "fields": "hours"},
    ).json()["data"]
    keys = [(-Decimal(str(r["hours"])), r["ID"]) for r in rows]
    assert keys == sorted(keys)


def test_count_matches_the_filter(api: httpx.Client, store: FakeWorkfront) -> None:
    """count with status=APP is the number of approved hours held."""
    approved = sum(1 for row in store.rows("HOUR") if row["status"] == "APP")
    reply = api.get("HOUR/count", params={"status": "APP"})
    assert reply.json() == {"data": {"count": approved}}


def test_gte_on_last_update_date_with_iso_text(api: httpx.Client, store: FakeWorkfront) -> None:
    """lastUpdateDate=<ISO>&lastUpdateDate_Mod=gte returns the rows changed at or after it."""
    stamps = sorted(row["lastUpdateDate"] for row in store.rows("HOUR"))
    cut = stamps[len(stamps) // 2]
    iso = cut.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    reply = api.get("HOUR/count", params={"lastUpdateDate": iso, "lastUpdateDate_Mod": "gte"})
    assert reply.json()["data"]["count"] == sum(1 for s in stamps if s >= cut)


def test_gte_accepts_workfront_timestamps(api: httpx.Client, store: FakeWorkfront) -> None:
    """A filter value in Workfront's own form (`...:000-0600`) is read as that instant."""
    rows = api.get(
        "HOUR/search",
        params={
            "fields": "lastUpdateDate",
            "lastUpdateDate_Sort": "asc",
            "ID_Sort": "asc",
            "$$LIMIT": "2000",
        },
    ).json()["data"]
    pivot = rows[100]["lastUpdateDate"]
    instant = datetime.strptime(pivot, "%Y-%m-%dT%H:%M:%S:%f%z")
    reply = api.get("HOUR/count", params={"lastUpdateDate": pivot, "lastUpdateDate_Mod": "gt"})
    later = sum(1 for row in store.rows("HOUR") if row["lastUpdateDate"] > instant)
    assert reply.json()["data"]["count"] == later > 0


def test_in_takes_repeated_values(api: httpx.Client, store: FakeWorkfront) -> None:
    """status=SUB&status=REJ&status_Mod=in counts both statuses."""
    wanted = sum(1 for row in store.rows("HOUR") if row["status"] in ("SUB", "REJ"))
    reply = api.get(
        "HOUR/count", params=[("status", "SUB"), ("status", "REJ"), ("status_Mod", "in")]
    )
    assert reply.json()["data"]["count"] == wanted


def test_between_with_range(api: httpx.Client, store: FakeWorkfront) -> None:
    """entryDate between 2025-03-01 and 2025-03-31 counts the hours of March."""
    march = sum(
        1
        for row in store.rows("HOUR")
        if row["entryDate"] is not None and str(row["entryDate"]).startswith("2025-03")
    )
    reply = api.get(
        "HOUR/count",
        params={
            "entryDate": "2025-03-01",
            "entryDate_Range": "2025-03-31",
            "entryDate_Mod": "between",
        },
    )
    assert reply.json()["data"]["count"] == march > 0


def test_isnull_finds_the_hours_without_project(api: httpx.Client, seed: DemoSeed) -> None:
    """projectID_Mod=isnull returns the general hours (no project)."""
    rows = api.get("HOUR/search", params={"projectID_Mod": "isnull", "ID_Sort": "asc"}).json()
    assert sorted(r["ID"] for r in rows["data"]) == sorted(seed.general_hours)


def test_contains_and_ne(api: httpx.Client) -> None:
    """name contains "Globex" finds two projects; status ne CUR the three others."""
    globex = api.get("PROJ/search", params={"name": "Globex", "name_Mod": "contains"}).json()
    assert sorted(r["name"] for r in globex["data"]) == [
        "PRJ-0003 Globex POS Rollout",
        "PRJ-0004 Globex Analytics Platform",
    ]
    other = api.get("PROJ/count", params={"status": "CUR", "status_Mod": "ne"}).json()
    assert other == {"data": {"count": 3}}


def test_nested_filter_and_fields(api: httpx.Client, seed: DemoSeed) -> None:
    """project:name filters hours by their project's name; fields=project:name nests it."""
    rows = api.get(
        "HOUR/search",
        params={
            "project:name": "PRJ-0006 Initech Security Assessment",
            "fields": "project:name,owner:name",
            "$$LIMIT": "2000",
        },
    ).json()["data"]
    assert rows
    assert {r["project"]["name"] for r in rows} == {"PRJ-0006 Initech Security Assessment"}
    assert {r["project"]["ID"] for r in rows} == {seed.projects["PRJ-0006"]}
    assert all(r["owner"]["objCode"] == "USER" for r in rows)


def test_or_groups(api: httpx.Client) -> None:
    """A row matches the plain filters or one OR group's (api-basics.md)."""
    reply = api.get(
        "PROJ/search",
        params={"status": "PLN", "OR:1:status": "ONH", "fields": "status", "status_Sort": "asc"},
    )
    assert [r["status"] for r in reply.json()["data"]] == ["ONH", "PLN"]


def test_fields_star_returns_every_field(api: httpx.Client) -> None:
    """fields=* returns all of an hour's fields."""
    row = api.get("HOUR/search", params={"fields": "*", "$$LIMIT": "1"}).json()["data"][0]
    assert {
        "hours",
        "entryDate",
        "projectID",
        "taskID",
        "ownerID",
        "roleID",
        "status",
        "actualCost",
        "lastUpdateDate",
    } <= set(row)


def test_default_fields_without_fields_param(api: httpx.Client) -> None:
    """Without fields= a project has its common subset (no budget)."""
    row = api.get("PROJ/search", params={"$$LIMIT": "1"}).json()["data"][0]
    assert {"ID", "name", "objCode", "status"} <= set(row)
    assert "budget" not in row


def test_custom_field_and_parameter_values(api: httpx.Client, seed: DemoSeed) -> None:
    """The PSA code is the custom field DE:PSA Project Code, also in parameterValues."""
    project = api.get(
        f"PROJ/{seed.projects['PRJ-0003']}",
        params={"fields": "DE:PSA Project Code,parameterValues"},
    ).json()["data"]
    assert project["DE:PSA Project Code"] == "PRJ-0003"
    assert project["parameterValues"] == {"DE:PSA Project Code": "PRJ-0003"}


def test_unknown_field_is_an_error(api: httpx.Client) -> None:
    """A field the object lacks is refused, naming it (PRED has no lastUpdateDate)."""
    reply = api.get(
        "PRED/search", params={"lastUpdateDate": "2025-01-01", "lastUpdateDate_Mod": "gte"}
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["message"] == (
        "APIModel V19_0 does not support field lastUpdateDate (Predecessor)"
    )


def test_bad_modifier_is_an_error(api: httpx.Client) -> None:
    """An unknown _Mod is refused (a client must not get unfiltered rows)."""
    reply = api.get("HOUR/count", params={"hours": "1", "hours_Mod": "bigger"})
    assert reply.status_code == 422 and "error" in reply.json()


def test_get_by_id_and_missing_id(api: httpx.Client, seed: DemoSeed) -> None:
    """{obj}/{ID} returns one object; an unknown ID is a 404 error body."""
    project = api.get(f"project/{seed.projects['PRJ-0001']}").json()["data"]
    assert project["name"] == "PRJ-0001 Acme ERP Cloud Migration"
    missing = api.get("PROJ/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and "error" in missing.json()


def test_filters_json_parameter(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """filters={"username": ...} filters on a name that collides with auth parameters."""
    reply = api.get(
        "USER/search",
        params={"filters": '{"username": "alice.martin@acme.example"}', "fields": "username"},
    )
    assert [r["username"] for r in reply.json()["data"]] == ["alice.martin@acme.example"]


def test_calls_are_counted_per_endpoint(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """The call counter names each endpoint: HOUR/search, HOUR/count, PROJ/get."""
    server.clear_log()
    api.get("HOUR/search")
    api.get("HOUR/search")
    api.get("HOUR/count")
    assert server.calls == Counter({"HOUR/search": 2, "HOUR/count": 1})


def test_or_group_alone_is_the_only_alternative(api: httpx.Client) -> None:
    """With only an OR:1 group (no plain filters), only its rows match."""
    reply = api.get("PROJ/count", params={"OR:1:status": "ONH"})
    assert reply.json() == {"data": {"count": 1}}


def test_nested_custom_field_filter(
    api: httpx.Client, store: FakeWorkfront, seed: DemoSeed
) -> None:
    """Hours filtered by their project's PSA code (project:DE:PSA Project Code) with it in
    fields: the hours of PRJ-0003 only."""
    rows = api.get(
        "HOUR/search",
        params={
            "project:DE:PSA Project Code": "PRJ-0003",
            "fields": "project:DE:PSA Project Code",
            "$$LIMIT": "2000",
        },
    ).json()["data"]
    held = [r for r in store.rows("HOUR") if r["projectID"] == seed.projects["PRJ-0003"]]
    assert len(rows) == len(held) > 0
    assert {r["project"]["DE:PSA Project Code"] for r in rows} == {"PRJ-0003"}


def test_first_skips_rows(api: httpx.Client, store: FakeWorkfront) -> None:
    """$$FIRST=300 with ID_Sort skips 300 rows: the last 3 hours by ID; past the end, none."""
    ids = sorted(row["ID"] for row in store.rows("HOUR"))
    page = api.get("HOUR/search", params={"$$FIRST": "300", "ID_Sort": "asc"}).json()["data"]
    assert [r["ID"] for r in page] == ids[300:]
    assert api.get("HOUR/search", params={"$$FIRST": "900"}).json() == {"data": []}


def test_get_several_ids_and_method_tunnel(api: httpx.Client, seed: DemoSeed) -> None:
    """PROJ?id=a,b returns both; POST with method=get reads like GET."""
    wanted = [seed.projects["PRJ-0001"], seed.projects["PRJ-0002"]]
    both = api.get("PROJ", params={"id": ",".join(wanted)}).json()["data"]
    assert [r["ID"] for r in both] == wanted
    tunnelled = api.post("PROJ/count", params={"method": "get", "status": "CUR"}).json()
    assert tunnelled == {"data": {"count": 5}}


def test_writes_are_refused(api: httpx.Client, seed: DemoSeed) -> None:
    """A PUT is not served: an UnsupportedOperationException error body."""
    reply = api.put(f"PROJ/{seed.projects['PRJ-0001']}", params={"name": "x"})
    assert reply.status_code == 501
    assert reply.json()["error"]["class"] == "java.lang.UnsupportedOperationException"


def test_sorted_pages_see_writes_between_them(
    api: httpx.Client, server: WorkfrontSandbox, store: FakeWorkfront
) -> None:
    """A write between two sorted pages shows in the next one: a deleted hour is gone and a
    changed hour carries its new hours (no stale page)."""
    params = {"$$LIMIT": "5", "ID_Sort": "asc", "fields": "hours"}
    first = api.get("HOUR/search", params=params).json(parse_float=Decimal)["data"]
    server.delete_hour(first[0]["ID"])
    server.change_hour(first[1]["ID"], hours=Decimal("0.25"))
    again = api.get("HOUR/search", params=params).json(parse_float=Decimal)["data"]
    assert [r["ID"] for r in again][:4] == [r["ID"] for r in first][1:]
    assert again[0]["hours"] == Decimal("0.25")


def test_numbered_sorts_rank_the_keys(api: httpx.Client, store: FakeWorkfront) -> None:
    """ID_2_Sort=desc with hours_1_Sort=asc: hours first (ascending), ties by ID descending,
    whatever order the parameters come in."""
    rows = api.get(
        "HOUR/search",
        params=[
            ("ID_2_Sort", "desc"),
            ("hours_1_Sort", "asc"),
            ("$$LIMIT", "2000"),
            ("fields", "hours"),
        ],
    ).json(parse_float=Decimal)["data"]
    keys = [(Decimal(str(r["hours"])), r["ID"]) for r in rows]
    expected = sorted(keys, key=lambda k: k[1], reverse=True)
    expected.sort(key=lambda k: k[0])
    assert keys == expected
