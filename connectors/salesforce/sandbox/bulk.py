"""Bulk API 2.0 query jobs: `POST jobs/query`, `GET jobs/query/<id>`,
`GET jobs/query/<id>/results?maxRecords=N&locator=L`, `DELETE jobs/query/<id>`.

A job runs its query when it is created (the result is a snapshot, like a real job's) and
reports `InProgress` to the first `polls_in_progress` status polls before `JobComplete`, so a
client's polling loop runs but a test stays fast (simple-salesforce sleeps `wait` seconds
before its first poll: pass `wait=0`). Results are CSV: a header of the selected field paths
in SELECT order (`pse__Region__r.Name`), every value quoted, null as an empty unquoted field,
datetimes `2025-03-04T10:15:02.000Z`, numbers plain (`15000.0`), booleans `true`/`false`.
Each page carries `Sforce-NumberOfRecords` and `Sforce-Locator` (`null` on the last page).
Aggregate queries are refused (Bulk API 2.0 does not run them).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.salesforce.sandbox.execute import BulkResult, run_bulk
from pmo_ledger.connectors.salesforce.sandbox.ids import IdFactory
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.replies import (
    Reply,
    Request,
    error_reply,
    json_reply,
    not_found,
)
from pmo_ledger.connectors.salesforce.sandbox.values import json_datetime

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_DEFAULT_MAX_RECORDS = 50_000


@dataclass(slots=True)
class QueryJob:
    id: str
    operation: str
    query: str
    version: str
    created: datetime
    created_by: str
    delimiter: str
    line_ending: str
    result: BulkResult
    polls_left: int
    state: str = "UploadComplete"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.result.sobject,
            "createdById": self.created_by,
            "createdDate": json_datetime(self.created),
            "systemModstamp": json_datetime(self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": Decimal(self.version),
            "jobType": "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.state == "JobComplete":
            info |= {
                "numberRecordsProcessed": len(self.result.rows),
                "retries": 0,
                "totalProcessingTime": 0,
            }
        return info

    def poll(self) -> None:
        """One status poll: InProgress while polls are left, then JobComplete."""
        with self._lock:
            if self.state in ("UploadComplete", "InProgress"):
                self.state = "InProgress" if self.polls_left > 0 else "JobComplete"
                self.polls_left -= 1


class QueryJobs:
    """The query jobs of the sandbox. Thread-safe."""

    def __init__(self, org: FakeOrg, *, polls_in_progress: int = 1) -> None:
        self.org = org
        self.polls_in_progress = polls_in_progress
        self._jobs: dict[str, QueryJob] = {}
        self._ids = IdFactory(org.org_id[3:5])
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._jobs)

    def handle(self, request: Request, version: str, parts: list[str]) -> Reply:
        """Route `jobs/query[/<id>[/results]]`. Raises SoqlError for the caller to answer."""
        if parts == [] and request.method == "POST":
            return self._create(request, version)
        job = self._job(parts[0]) if parts else None
        if job is None:
            return not_found()
        if parts[1:] == [] and request.method == "GET":
            job.poll()
            return json_reply(200, job.info())
        if parts[1:] == [] and request.method == "DELETE":
            with self._lock:
                self._jobs.pop(job.id, None)
            return Reply(204, "text/plain", "")
        if parts[1:] == ["results"] and request.method == "GET":
            return _results(job, request)
        return not_found()

    def _job(self, job_id: str) -> QueryJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _create(self, request: Request, version: str) -> Reply:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return error_reply(400, "JSON_PARSER_ERROR", "The request body is not JSON")
        operation = body.get("operation")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if operation not in ("query", "queryAll") or not body.get("query"):
            return error_reply(400, "INVALIDJOB", "operation query or queryAll and a query")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            return error_reply(400, "INVALIDJOB", "unknown columnDelimiter or lineEnding")
        result = run_bulk(self.org, body["query"], include_deleted=operation == "queryAll")
        job = QueryJob(
            id=self._ids.new("750"),
            operation=operation,
            query=body["query"],
            version=version,
            created=self.org.now(),
            created_by=self.org.user_id,
            delimiter=delimiter,
            line_ending=line_ending,
            result=result,
            polls_left=self.polls_in_progress,
        )
        with self._lock:
            self._jobs[job.id] = job
        return json_reply(200, job.info())


def _locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str) -> int | None:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _results(job: QueryJob, request: Request) -> Reply:
    if job.state != "JobComplete":
        return error_reply(412, "JOB_NOT_COMPLETE", "The job is not complete")
    max_text = request.param("maxRecords")
    if max_text is not None and (not max_text.isdigit() or int(max_text) < 1):
        return error_reply(400, "INVALIDJOB", "maxRecords must be a positive integer")
    size = int(max_text) if max_text else _DEFAULT_MAX_RECORDS
    locator = request.param("locator")
    offset = 0 if not locator else _offset(locator)
    rows = job.result.rows
    if offset is None or offset > len(rows):
        return error_reply(400, "INVALID_LOCATOR", f"Invalid locator: {locator}")
    page = rows[offset : offset + size]
    end = offset + len(page)
    sep, eol = DELIMITERS[job.delimiter], LINE_ENDINGS[job.line_ending]
    lines = [sep.join(_quoted(c) for c in job.result.columns)]
    lines += [sep.join(_quoted(c) for c in row) for row in page]
    headers = {
        "Sforce-NumberOfRecords": str(len(page)),
        "Sforce-Locator": _locator(end) if end < len(rows) else "null",
    }
    return Reply(200, "text/csv", eol.join(lines) + eol, headers)


def _quoted(cell: str | None) -> str:
    return "" if cell is None else '"' + cell.replace('"', '""') + '"'
