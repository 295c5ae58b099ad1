"""The REST resources under `/services/data/vNN.N/`: query and queryAll with cursors, sObject
describe / get / deleted / updated, describeGlobal, limits, and the versions list.

Query paging is Salesforce's: a page holds min(batchSize of `Sforce-Query-Options`, clamped
to 200..2000, and the sandbox's page size) records; `nextRecordsUrl` is the server-relative
path `/services/data/vNN.N/query/<locator>-<offset>` (queryAll's too, as Salesforce does),
and both `query/<...>` and `queryAll/<...>` answer it. A cursor holds the records its query
produced, so writes after the query do not move its pages.

getDeleted / getUpdated truncate start and end to the minute, as Salesforce does; the window
is [start, latestDateCovered), where latestDateCovered is min(end, org clock) to the minute.
A start more than 15 days (deleted) or 30 days (updated) before the org clock, or a window
shorter than a minute, is 400 INVALID_REPLICATION_DATE.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from pmo_ledger.connectors.salesforce.sandbox.execute import QueryResult, run_query
from pmo_ledger.connectors.salesforce.sandbox.ids import to18
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.replies import (
    Reply,
    Request,
    error_reply,
    json_reply,
    not_found,
)
from pmo_ledger.connectors.salesforce.sandbox.schema import SYSTEM_FIELDS, FieldType, ObjectDef
from pmo_ledger.connectors.salesforce.sandbox.values import json_datetime, wire

#: API versions the versions resource lists (any vNN.N path is answered).
VERSIONS = (("Winter '24", "59.0"), ("Spring '24", "60.0"), ("Summer '24", "61.0"))
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_KEEP_CURSORS = 500


def versions() -> Reply:
    """`GET /services/data/`."""
    return json_reply(
        200, [{"label": lbl, "url": f"/services/data/v{v}", "version": v} for lbl, v in VERSIONS]
    )


def batch_size(request: Request, page_size: int) -> int:
    """Records per page: the client's batchSize (200..2000) capped by the sandbox's."""
    match = _BATCH.search(request.headers.get("sforce-query-options", ""))
    asked = min(max(int(match.group(1)), 200), 2000) if match else 2000
    return min(asked, page_size)


class QueryCursors:
    """Open query results by locator. Thread-safe; the oldest go beyond 500."""

    def __init__(self) -> None:
        self._results: OrderedDict[str, QueryResult] = OrderedDict()
        self._lock = threading.Lock()

    def first_page(self, result: QueryResult, version: str, size: int) -> Reply:
        """The first page of a new result (a cursor only when there is more than a page)."""
        locator = ""
        if not result.aggregate and len(result.records) > size:
            locator = to18("0r8" + secrets.token_hex(6))
            with self._lock:
                self._results[locator] = result
                while len(self._results) > _KEEP_CURSORS:
                    self._results.popitem(last=False)
        return _page(result, locator, 0, version, size)

    def next_page(self, token: str, version: str, size: int) -> Reply:
        """The page a `nextRecordsUrl` points at."""
        locator, _, offset = token.partition("-")
        with self._lock:
            result = self._results.get(locator)
        if result is None or not offset.isdigit() or int(offset) > len(result.records):
            return error_reply(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return _page(result, locator, int(offset), version, size)


def _page(result: QueryResult, locator: str, offset: int, version: str, size: int) -> Reply:
    end = offset + size if locator else len(result.records)
    page: dict[str, Any] = {"totalSize": result.total_size, "done": end >= len(result.records)}
    if not page["done"]:
        page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
    page["records"] = result.records[offset:end]
    return json_reply(200, page)


def query(
    org: FakeOrg,
    cursors: QueryCursors,
    request: Request,
    version: str,
    *,
    all_rows: bool,
    size: int,
) -> Reply:
    """`GET query/?q=` and `GET queryAll/?q=`. Raises SoqlError for the caller to answer."""
    soql = request.param("q")
    if not soql:
        return error_reply(400, "MALFORMED_QUERY", "A query string has to be specified")
    result = run_query(org, soql, include_deleted=all_rows, version=version)
    return cursors.first_page(result, version, size)


# --- sObjects ------------------------------------------------------------------------------


#: `soapType` of each field type, as describe states it.
_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.STRING: "xsd:string",
    FieldType.PICKLIST: "xsd:string",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.CURRENCY: "xsd:double",
    FieldType.DOUBLE: "xsd:double",
    FieldType.PERCENT: "xsd:double",
    FieldType.INT: "xsd:int",
}


def _field_describe(obj: ObjectDef, name: str) -> dict[str, Any]:
    field = obj.field(name)
    assert field is not None
    writable = field.name not in SYSTEM_FIELDS
    described: dict[str, Any] = {
        "name": field.name,
        "label": field.label,
        "type": field.type.value,
        "soapType": _SOAP_TYPES[field.type],
        "nillable": field.nillable,
        "custom": field.name.endswith("__c"),
        "calculated": False,
        "createable": writable,
        "updateable": writable,
        "filterable": True,
        "sortable": True,
        "picklistValues": [],
        "referenceTo": [field.reference_to] if field.reference_to else [],
        "relationshipName": field.relationship_name,
    }
    if field.type in (FieldType.STRING, FieldType.PICKLIST):
        described["length"] = 255 if field.type is FieldType.STRING else 40
    if field.type in (FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT):
        described |= {"precision": 18, "scale": 2}
    return described


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "queryable": True,
        "replicateable": True,
        "urls": _urls(obj, version),
    }


def describe_global(org: FakeOrg, version: str) -> Reply:
    """`GET sobjects/`."""
    summaries = [_summary(obj, version) for obj in org.schema.values()]
    return json_reply(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": summaries})


def sobject(org: FakeOrg, request: Request, version: str, parts: list[str]) -> Reply:
    """`sobjects/<obj>/...`: describe, deleted, updated, a record by id, basic info."""
    try:
        obj = org.describe(parts[0])
    except KeyError:
        return not_found()
    rest = parts[1:]
    if not rest:
        return json_reply(200, {"objectDescribe": _summary(obj, version), "recentItems": []})
    if rest == ["describe"]:
        fields = [_field_describe(obj, f.name) for f in obj.fields]
        more = {
            "labelPlural": f"{obj.label}s",
            "retrieveable": True,
            "searchable": True,
            "childRelationships": [],
            "recordTypeInfos": [],
        }
        return json_reply(200, _summary(obj, version) | more | {"fields": fields})
    if rest == ["deleted"]:
        return _replication(org, obj, request, deleted=True)
    if rest == ["updated"]:
        return _replication(org, obj, request, deleted=False)
    if len(rest) == 1:
        return _record(org, obj, rest[0], request, version)
    return not_found()


def _record(org: FakeOrg, obj: ObjectDef, record_id: str, request: Request, version: str) -> Reply:
    try:
        row = org.get(obj.name, record_id)
    except KeyError:
        return not_found()
    if row["IsDeleted"]:
        return error_reply(404, "ENTITY_IS_DELETED", "entity is deleted")
    wanted = request.param("fields")
    names = [f.name for f in obj.fields]
    if wanted:
        chosen = [obj.field(n.strip()) for n in wanted.split(",")]
        missing = [n for n, f in zip(wanted.split(","), chosen, strict=True) if f is None]
        if missing:
            return error_reply(400, "INVALID_FIELD", f"No such column '{missing[0]}' on sobject")
        names = [f.name for f in chosen if f is not None]
    url = f"/services/data/v{version}/sobjects/{obj.name}/{row['Id']}"
    record: dict[str, Any] = {"attributes": {"type": obj.name, "url": url}}
    record |= {name: wire(row[name]) for name in names}
    return json_reply(200, record)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _replication(org: FakeOrg, obj: ObjectDef, request: Request, *, deleted: bool) -> Reply:
    start, end = _when(request.param("start")), _when(request.param("end"))
    if start is None or end is None:
        # UNVERIFIED: Salesforce's wording for an unreadable date parameter.
        return error_reply(
            400,
            "MALFORMED_QUERY",
            "start and end must be ISO 8601 datetimes with an offset, URL-encoded",
        )
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    now = org.now()
    reach = timedelta(days=15 if deleted else 30)
    if end - start < timedelta(minutes=1) or start < now - reach:
        # The code is documented for both cases; the message is ours.
        return error_reply(
            400,
            "INVALID_REPLICATION_DATE",
            f"start must be before end and within {reach.days} days of the org's clock",
        )
    # Never before start: a client that takes it as its next start must not go back.
    covered = max(start, min(end, now.replace(second=0, microsecond=0)))
    if deleted:
        records = [
            {"id": d.id, "deletedDate": json_datetime(d.deleted_at)}
            for d in org.deletions(obj.name)
            if start <= d.deleted_at < covered
        ]
        return json_reply(
            200,
            {
                "deletedRecords": records,
                "earliestDateAvailable": json_datetime(org.earliest_date_available()),
                "latestDateCovered": json_datetime(covered),
            },
        )
    ids = [
        str(row["Id"])
        for row in org.rows(obj.name)
        if isinstance(stamp := row["SystemModstamp"], datetime) and start <= stamp < covered
    ]
    return json_reply(200, {"ids": ids, "latestDateCovered": json_datetime(covered)})


def limits(used: int, maximum: int, bulk_jobs: int) -> Reply:
    """`GET limits/`: the daily API allowance as the sandbox counts it."""
    return json_reply(
        200,
        {
            "DailyApiRequests": {"Max": maximum, "Remaining": max(maximum - used, 0)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": max(10000 - bulk_jobs, 0)},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        },
    )
