"""How one Salesforce stream is read, as pages for the runner.

- **Incremental** (`request.cursor` set): one queryAll `WHERE SystemModstamp >= :cursor ORDER
  BY SystemModstamp, Id`. Live and recycle-bin rows come in one ordered stream, so every page's
  checkpoint (its last SystemModstamp) is safe for records and deletions alike. Before it, the
  object's delete log is asked for `earliestDateAvailable`: when it is later than the stored
  checkpoint, deletions may have been forgotten and the stream is read as a full scope instead.
- **Full** (no cursor): the same query without the cursor between ScopeStart(stream) and
  ScopeEnd(stream), so the runner reverses actual lines the source no longer lists. Its pages
  carry a `resume` position (the last row's SystemModstamp and Id, and the read's start): a
  read cut off half-way is continued by the next run after that row (`request.resume`), and
  its ScopeEnd still carries the start of the first part as the checkpoint. A position it
  cannot read starts the read over, its ScopeStart marked `restarted`. Above
  `bulk_threshold` rows it runs as a Bulk API 2.0 queryAll, with a checkpoint on its last page
  only and no resume (Bulk pages carry no order guarantee we rely on).
- **Scope** (`--project` / `--period`): that scope in full between ScopeStart(key) and
  ScopeEnd(key), without checkpoints (it does not cover every smaller cursor value).

Before its first query a stream describes its object (`describe.py`): an optional field the
org does not list is dropped with one `salesforce_field_missing` warning; a required one, or
a query the org refuses (INVALID_FIELD...), stops this stream with a StreamConfigError that
names the config key to fix. A row that cannot be read is a `Rejected` row with the raw row as
payload; a row that left the counting state (pse__Include_In_Financials__c false) is a
deletion.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from pmo_ledger.connectors.base import (
    ConnectorContext,
    Cursor,
    Page,
    ReadRequest,
    SourceTotal,
)
from pmo_ledger.connectors.errors import ConnectorConfigError, StreamConfigError
from pmo_ledger.connectors.kit.pages import deletion_pages, scoped
from pmo_ledger.connectors.salesforce import normalize as n
from pmo_ledger.connectors.salesforce import soql
from pmo_ledger.connectors.salesforce import values as v
from pmo_ledger.connectors.salesforce.client import SalesforceClient
from pmo_ledger.connectors.salesforce.describe import missing_part
from pmo_ledger.connectors.salesforce.objects import ObjectStream
from pmo_ledger.connectors.salesforce.settings import SalesforceSettings
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, Record, Rejected
from pmo_ledger.ledger.time.calendar import generate_year, parse_period

log = structlog.get_logger(__name__)

#: The delete log keeps 15 days; older checkpoints cannot be checked against it.
DELETE_LOG_DAYS = 14
#: Ids per `IN (...)` list of a follow-up query.
IN_CHUNK = 200
#: The column or relationship an INVALID_FIELD error names.
_NAMED = re.compile(r"(?:No such column|Didn't understand relationship) '([^']+)'")


class StreamReader:
    """Reads one stream of one org; built per extract call."""

    def __init__(
        self,
        client: SalesforceClient,
        settings: SalesforceSettings,
        stream: ObjectStream,
        context: ConnectorContext,
    ) -> None:
        self.client = client
        self.settings = settings
        self.stream = stream
        self.context = context
        own = settings.stream(stream.name)
        self.sobject = own.object or stream.sobject
        roles: dict[str, str | None] = dict(stream.roles)
        if stream.name == "projects":
            roles["portfolio"] = settings.portfolio_field
            roles["program"] = settings.program_field
        roles.update({role: path or None for role, path in own.fields.items()})  # "": unset
        if not settings.multi_currency:
            roles["currency"] = None
        self.roles = roles
        self.user_where = own.where
        self._ctx: n.RowContext | None = None
        self._checked = False

    @property
    def ctx(self) -> n.RowContext:
        """The row context; its instance URL (for source_url) is known once logged in."""
        if self._ctx is None:
            self._ctx = self._row_context(f"https://{self.client.instance}")
        return self._ctx

    def _row_context(self, instance_url: str) -> n.RowContext:
        settings, stream = self.settings, self.stream
        return n.RowContext(
            sobject=self.sobject,
            fields=self.roles,
            instance_url=instance_url,
            currency=None if settings.multi_currency else settings.currency,
            corporate_currency=settings.corporate_currency,
            rate_type=(
                settings.static_rate_type
                if stream.name == "currency_rates"
                else settings.dated_rate_type
            ),
            rates_from=settings.rates_from,
            calendar=self.context.calendar,
        )

    def definition(self) -> dict[str, Any]:
        """What decides which rows a read lists and what records they make, as configured
        (before the org's describe): the object, each role's field, the conditions and the
        org settings rows are read with. `SalesforceConnector.read_fingerprint` digests it."""
        s = self.settings
        return {
            "object": self.sobject,
            "fields": self.roles,
            "where": [self.stream.base_where, self.user_where],
            "multi_currency": s.multi_currency,
            "currency": s.currency,
            "corporate_currency": s.corporate_currency,
            "rate_types": [s.dated_rate_type, s.static_rate_type],
            "budget_statuses": s.budget_statuses,
            "rates_from": s.rates_from.isoformat(),
        }

    # --- queries -------------------------------------------------------------------------

    def fields(self) -> list[str]:
        wanted = ["Id", "SystemModstamp"]
        if self.stream.soft_deleted:
            wanted.append("IsDeleted")
        wanted += [f for f in self.roles.values() if f]
        return list(dict.fromkeys(wanted))

    def conditions(self, *extra: str | None) -> list[str | None]:
        return [self.stream.base_where, self.user_where, *extra]

    def _field(self, role: str | None) -> str:
        path = self.roles.get(role) if role else None
        if path is None:
            raise ConnectorConfigError(
                f"stream {self.stream.name} has no {role or 'scope'} field to filter on"
            )
        return path

    # --- reads ---------------------------------------------------------------------------

    def pages(self, request: ReadRequest) -> Iterator[Page]:
        """Pages for the request; see the module docstring. Raises StreamConfigError naming
        the fix when the org lacks the object or a required field, or refuses the query."""
        self.check_fields()
        try:
            yield from self._read(request)
        except StreamConfigError as exc:
            raise StreamConfigError(self._explained(exc)) from exc

    def _read(self, request: ReadRequest) -> Iterator[Page]:
        if request.scope is not None:
            return self._scoped(request.scope)
        if request.resume is not None:
            return self._full(request.resume)
        cursor = request.cursor
        if cursor is None:
            return self._full()
        if cursor.kind != "timestamp" or not isinstance(cursor.value, datetime):
            raise ConnectorConfigError(
                f"stream {self.stream.name} reads from a timestamp cursor, not {cursor.kind}"
            )
        return self._incremental(cursor.value, request.checkpoint)

    def _incremental(self, since: datetime, checkpoint: Cursor | None) -> Iterator[Page]:
        started = self.client.server_now()
        purged = self._delete_log(checkpoint, started)
        if purged is None:
            yield from self._full()
            return
        query = soql.select(self.fields(), self.sobject, self.conditions(soql.since(since)))
        for rows in self.client.pages(query, include_deleted=self.stream.soft_deleted):
            yield self._page(rows, checkpoint=_last_stamp(rows))
        # Emptied from the recycle bin since the checkpoint: no longer in queryAll, still in
        # the delete log. Then everything visible when the read started has been listed.
        yield from deletion_pages(
            self._deletions(purged),
            self.settings.page_size,
            checkpoint=Cursor("timestamp", started),
        )

    def _deletions(self, ids: list[str]) -> list[str]:
        if self.stream.expand or not self.stream.none_deletes:
            return []  # budget / opportunity keys are not the deleted rows' ids
        return ids

    def _delete_log(self, checkpoint: Cursor | None, now: datetime) -> list[str] | None:
        """The ids the object's delete log lists since the checkpoint, or None when the log no
        longer reaches back to it (deletions may have been forgotten: read in full)."""
        if not self.stream.soft_deleted or checkpoint is None:
            return []
        if not isinstance(checkpoint.value, datetime):
            return []
        # The window must be at least a minute long (the API truncates to minutes and refuses
        # an empty window), so a very recent checkpoint asks from a little before it.
        start = min(
            max(checkpoint.value, now - timedelta(days=DELETE_LOG_DAYS)),
            now - timedelta(minutes=2),
        )
        earliest, deleted = self.client.deleted_window(self.sobject, start, now)
        forgot = checkpoint.value < now - timedelta(days=DELETE_LOG_DAYS) or (
            earliest is not None and earliest > checkpoint.value
        )
        if not forgot:
            return deleted
        log.warning(
            "salesforce_delete_log_forgot",
            stream=self.stream.name,
            sobject=self.sobject,
            checkpoint=checkpoint.value.isoformat(),
            earliest_available=earliest.isoformat() if earliest else None,
            action="full scope read",
        )
        return None

    def _full(self, resume: Cursor | None = None) -> Iterator[Page]:
        """The stream in full as one scope, in SystemModstamp, Id order. Its pages carry no
        checkpoint (the stream's checkpoint must not pass rows not yet listed, nor skip the
        ScopeEnd that reverses what vanished) but a `resume` position; from `resume` the read
        goes on after that row, with the start of its first part. The ScopeEnd carries that
        start: the next incremental read looks for changes and deletions from there."""
        position = self._resumed(resume)
        started = position.started if position is not None else self.client.server_now()
        # Asked to continue but cannot: the read starts over, and says so.
        yield from scoped(
            self.stream.name,
            self._full_pages(started, position),
            restarted=resume is not None and position is None,
            markers_apart=True,
            end_checkpoint=Cursor("timestamp", started),
        )

    def _full_pages(self, started: datetime, position: _Position | None) -> Iterator[Page]:
        """The pages of a full read (after `position` when continuing one); run after its
        ScopeStart was yielded."""
        conditions = self.conditions()
        if position is not None:
            conditions = self.conditions(soql.after_row(position.stamp, position.row_id))
        threshold = self.settings.bulk_threshold
        pages: Iterator[Sequence[Mapping[str, Any]]] | None = None
        if threshold and self.stream.soft_deleted and position is None:
            rows_there = self.client.count(soql.count(self.sobject, conditions))
            if rows_there > threshold:
                log.info(
                    "salesforce_bulk_read",
                    stream=self.stream.name,
                    sobject=self.sobject,
                    rows=rows_there,
                )
                pages = self.client.bulk_pages(
                    self.sobject,
                    soql.select(self.fields(), self.sobject, conditions, ordered=False),
                )
        ordered = pages is None
        if pages is None:
            query = soql.select(self.fields(), self.sobject, conditions)
            pages = self.client.pages(query, include_deleted=self.stream.soft_deleted)
        for rows in pages:
            page = self._page(rows)
            if ordered:
                position = _Position.after(started, rows) or position
                if position is not None:
                    page = replace(page, resume=position.cursor())
            yield page

    def _resumed(self, resume: Cursor | None) -> _Position | None:
        if resume is None:
            return None
        try:
            return _Position.of(resume)
        except ValueError:
            log.warning(
                "salesforce_resume_unreadable", stream=self.stream.name, resume=resume.to_json()
            )
            return None  # start the read over: slower, never wrong

    def _scoped(self, scope: str) -> Iterator[Page]:
        kind, _, value = scope.partition(":")
        if kind not in self.stream.spec.scopes or not value:
            raise ConnectorConfigError(f"stream {self.stream.name} cannot re-sync scope {scope}")
        if kind == "project":
            condition = soql.equals(self._field(self.stream.project_role), value)
        else:
            first, last = self._period_dates(value)
            condition = soql.between(self._field(self.stream.date_role), first, last)
        query = soql.select(self.fields(), self.sobject, self.conditions(condition))
        rows = self.client.pages(query, include_deleted=self.stream.soft_deleted)
        yield from scoped(scope, map(self._page, rows), markers_apart=True)

    def _period_dates(self, key: str) -> tuple[date, date]:
        try:
            year, number = parse_period(key)
        except ValueError as exc:
            raise ConnectorConfigError(f"cannot re-sync period {key}: {exc}") from None
        for p in generate_year(self.context.calendar, year):
            if p.period_no == number:
                return p.start_on, p.end_on
        raise ConnectorConfigError(f"the fiscal calendar has no period {key}")

    # --- the org's describe ------------------------------------------------------------

    def check_fields(self) -> None:
        """Describe the object before the first query: an optional role whose field the org
        does not list is dropped (one `salesforce_field_missing` warning); a missing required
        one, or a missing object, raises StreamConfigError with the fix."""
        if self._checked:
            return
        stream, sobject = self.stream.name, self.sobject
        if self.client.describe(sobject) is None:
            raise StreamConfigError(
                f"stream {stream}: the org has no object {sobject} (or the integration user "
                f'cannot read it); set [{self._key()}] object = "<the org\'s object>", or '
                "enabled = false"
            )
        for role, path in list(self.roles.items()):
            if not path:
                continue
            missing = missing_part(self.client.describe, sobject, path)
            if missing is None:
                continue
            if role in self.stream.required:
                raise StreamConfigError(
                    f"stream {stream}: the org does not list {missing} ({role} = {path!r}), "
                    f"which the stream needs; map it to the org's field: "
                    f'[{self._key()}.fields] {role} = "<field of {sobject}>"{_hint(role)}'
                )
            log.warning(
                "salesforce_field_missing",
                connector=self.context.name,
                stream=stream,
                sobject=sobject,
                field=path,
                role=role,
            )
            self.roles[role] = None
        self._checked = True

    def _key(self) -> str:
        return f"connectors.{self.context.name}.streams.{self.stream.name}"

    def _explained(self, exc: StreamConfigError) -> str:
        """The org's refusal of a query, with the stream and the config key to fix."""
        text = str(exc)
        named = _NAMED.search(text)
        part = named.group(1).rsplit(".", 1)[-1].casefold() if named else None
        roles = [
            r
            for r, path in self.roles.items()
            if path and part and part in (p.casefold() for p in path.split("."))
        ]
        if roles and roles[0] not in self.stream.required:
            fix = f'[{self._key()}.fields] {roles[0]} = "" (or the org\'s field)'
        elif roles:
            fix = f'[{self._key()}.fields] {roles[0]} = "<field of {self.sobject}>"'
        else:
            fix = f"[{self._key()}] object, fields or where"
        return f"stream {self.stream.name}: {text}; fix: {fix}"

    # --- rows -> page --------------------------------------------------------------------

    def _page(self, rows: Sequence[Mapping[str, Any]], checkpoint: Cursor | None = None) -> Page:
        if self.stream.expand == "budgets":
            return self._budget_page(rows, checkpoint)
        if self.stream.expand == "opportunities":
            return self._opportunity_page(rows, checkpoint)
        records: list[Record] = []
        deletions: list[str] = []
        rejected: list[Rejected] = []
        for row in rows:
            rid = v.text(row, "Id")
            if self.stream.soft_deleted and v.flag(row, "IsDeleted") is True:
                if rid:
                    deletions.append(rid)
                continue
            assert self.stream.normalize is not None
            try:
                out = self.stream.normalize(row, self.ctx)
            except ValueError as exc:
                rejected.append(_rejected(rid, exc, row))
                continue
            if out is None:
                if rid and self.stream.none_deletes:
                    deletions.append(rid)
            elif isinstance(out, list):
                records.extend(out)
            else:
                records.append(out)
        return Page(records, deletions, rejected, checkpoint)

    def _budget_page(self, rows: Sequence[Mapping[str, Any]], checkpoint: Cursor | None) -> Page:
        """Budget rows name the projects whose budgets changed: each such project's counting
        budgets are read again and emitted whole as its baseline and current versions,
        `derived` from that read and stamped with its time on the org's clock."""
        project_field = self._field("project")
        projects = {p for p in (v.text(r, project_field) for r in rows) if p}
        by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        statuses = soql.one_of(self._field("status"), self.settings.budget_statuses)
        fields = [f for f in self.fields() if f != "IsDeleted"]
        for chunk in _chunks(sorted(projects), IN_CHUNK):
            query = soql.select(
                fields,
                self.sobject,
                self.conditions(soql.one_of(project_field, chunk), statuses),
                ordered=False,
            )
            for row in self.client.rows(query):
                by_project[v.text(row, project_field) or ""].append(row)
        read_at = self.client.server_now() if projects else None
        records: list[Record] = []
        deletions: list[str] = []
        rejected: list[Rejected] = []
        for project in sorted(projects):
            found = by_project.get(project)
            if not found:
                deletions += [f"{project}/baseline", f"{project}/current"]
                continue
            try:
                records += self._budget_versions(project, found, read_at)
            except ValueError as exc:
                rejected.append(_rejected(f"{project}/current", exc, found[0]))
        return Page(records, deletions, rejected, checkpoint)

    def _budget_versions(
        self, project: str, rows: list[Mapping[str, Any]], read_at: datetime | None
    ) -> list[BudgetRecord]:
        """The project's baseline (its earliest counting budget) and current (all of them)
        versions. Both are `derived` from the re-read of every counting budget, so the
        ledger replaces the stored versions whenever their content differs: the newest
        SystemModstamp among the budgets that still count says nothing when the newest one
        was deleted or left a counting status. Stamped `read_at`, the re-read's time."""
        roles = self.roles
        lines: list[tuple[date, str, BudgetLineRecord]] = []
        for row in rows:
            amount = v.number(row, roles.get("amount"))
            rid = n.record_id(row)
            if amount is None:
                raise ValueError(f"budget {rid} has no {roles.get('amount')}")
            effective = v.day(row, roles.get("effective")) or self.ctx.rates_from
            line = BudgetLineRecord(
                external_id=rid, amount=amount, currency=self.ctx.currency_of(row) or ""
            )
            lines.append((effective, rid, line))
        lines.sort(key=lambda t: (t[0], t[1]))
        first = rows[0]
        start = v.day(first, roles.get("project_start"))
        finish = v.day(first, roles.get("project_finish"))
        common: dict[str, Any] = {
            "project_ref": project,
            "planned_start": start,
            "planned_finish": finish,
            "source_modified_at": read_at,
            "derived": True,
        }
        baseline = BudgetRecord(
            external_id=f"{project}/baseline",
            kind="baseline",
            number=1,
            effective_from=lines[0][0],
            lines=(lines[0][2],),
            label="first approved budget",
            **common,
        )
        current = BudgetRecord(
            external_id=f"{project}/current",
            kind="current",
            number=2,
            effective_from=lines[-1][0],
            lines=tuple(t[2] for t in lines),
            label="approved budgets",
            **common,
        )
        return [baseline, current]

    def _opportunity_page(
        self, rows: Sequence[Mapping[str, Any]], checkpoint: Cursor | None
    ) -> Page:
        """Opportunities, each with the project whose pse__Opportunity__c names it."""
        live = [r for r in rows if v.flag(r, "IsDeleted") is not True]
        ids = [rid for rid in (v.text(r, "Id") for r in live) if rid]
        project_of: dict[str, str] = {}
        for chunk in _chunks(ids, IN_CHUNK):
            query = soql.select(
                ["Id", "pse__Opportunity__c"],
                "pse__Proj__c",
                [soql.one_of("pse__Opportunity__c", chunk)],
                ordered=False,
            )
            for row in self.client.rows(query):
                opp, proj = v.text(row, "pse__Opportunity__c"), v.text(row, "Id")
                if opp and proj:
                    project_of.setdefault(opp, proj)
        records: list[Record] = []
        rejected: list[Rejected] = []
        deletions = [
            rid for rid in (v.text(r, "Id") for r in rows if v.flag(r, "IsDeleted")) if rid
        ]
        for live_row in live:
            rid = v.text(live_row, "Id")
            try:
                records.append(n.opportunity(live_row, self.ctx, project_of.get(rid or "")))
            except ValueError as exc:
                rejected.append(_rejected(rid, exc, live_row))
        return Page(records, deletions, rejected, checkpoint)

    # --- control totals ------------------------------------------------------------------

    def control_totals(self) -> list[SourceTotal] | None:
        """Count, amount and hours (where the stream maps hours) per project and currency of
        the counting rows; a budget stream's current budget (`_budget_totals`). Summed here
        from the rows in their own currency: an org's SUM() with GROUP BY converts currency
        fields to the corporate currency, and aggregate results cannot be paged past 2,000
        groups. Raises StreamConfigError naming the fix, as `pages` does."""
        if self.stream.expand != "budgets" and self.stream.amount_role is None:
            return None
        self.check_fields()
        try:
            return self._control_totals()
        except StreamConfigError as exc:
            raise StreamConfigError(self._explained(exc)) from exc

    def _control_totals(self) -> list[SourceTotal]:
        if self.stream.expand == "budgets":
            return self._budget_totals()
        assert self.stream.amount_role is not None
        counts = self.roles.get("counts")
        return self._totals(
            self._field(self.stream.amount_role),
            self.roles.get("hours"),
            self.conditions(f"{counts} = true" if counts else None),
        )

    def _budget_totals(self) -> list[SourceTotal]:
        """The rows of each project's `current` version: its budgets in a counting status
        (`budget_statuses`), counted and summed per project and currency. Rows without a
        project belong to no project's budget: the stream never reads them."""
        project = self._field(self.stream.project_role)
        statuses = soql.one_of(self._field("status"), self.settings.budget_statuses)
        totals = self._totals(
            self._field("amount"), None, self.conditions(f"{project} != null", statuses)
        )
        return [t for t in totals if t.project_ref]

    def _totals(
        self, amount: str, hours: str | None, conditions: list[str | None]
    ) -> list[SourceTotal]:
        project = self._field(self.stream.project_role)
        currency = self.roles.get("currency")
        fields = ["Id", project, amount] + [f for f in (hours, currency) if f]
        query = soql.select(list(dict.fromkeys(fields)), self.sobject, conditions, ordered=False)
        sums: dict[tuple[str | None, str | None], list[Any]] = defaultdict(
            lambda: [0, Decimal(0), Decimal(0)]
        )
        for rows in self.client.pages(query, include_deleted=False):
            for row in rows:
                key = (
                    v.text(row, project),
                    v.text(row, currency) if currency else self.settings.currency,
                )
                group = sums[key]
                group[0] += 1
                # An unreadable number is counted, not summed (the row is quarantined).
                for i, path in ((1, amount), (2, hours)):
                    try:
                        group[i] += v.number(row, path) or 0
                    except ValueError:
                        pass
        return [
            SourceTotal(p, c, n, total, spent if hours else None)
            for (p, c), (n, total, spent) in sums.items()
        ]


def _last_stamp(rows: Sequence[Mapping[str, Any]]) -> Cursor | None:
    """The checkpoint of an ordered page: its last row's SystemModstamp."""
    for row in reversed(rows):
        try:
            at = v.stamp(row, "SystemModstamp")
        except ValueError:
            continue
        if at is not None:
            return Cursor("timestamp", at)
    return None


@dataclass(frozen=True)
class _Position:
    """Where a full read goes on: after the row (`stamp`, `row_id`) in SystemModstamp, Id
    order, in the read that started at `started` (the org's clock)."""

    started: datetime
    stamp: datetime
    row_id: str

    @classmethod
    def after(cls, started: datetime, rows: Sequence[Mapping[str, Any]]) -> _Position | None:
        """After the last row of an ordered page (None: the page has no such row)."""
        for row in reversed(rows):
            rid = v.text(row, "Id")
            try:
                at = v.stamp(row, "SystemModstamp")
            except ValueError:
                continue
            if rid and at is not None:
                return cls(started, at, rid)
        return None

    @classmethod
    def of(cls, cursor: Cursor) -> _Position:
        """From a `resume` token. Raises ValueError for one this connector did not write."""
        try:
            data = json.loads(str(cursor.value))
            return cls(
                datetime.fromisoformat(data["started"]),
                datetime.fromisoformat(data["stamp"]),
                str(data["id"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a Salesforce resume position: {cursor}") from exc

    def cursor(self) -> Cursor:
        data = {
            "started": self.started.isoformat(),
            "stamp": self.stamp.isoformat(),
            "id": self.row_id,
        }
        return Cursor("token", json.dumps(data, sort_keys=True))


def _hint(role: str) -> str:
    if role == "currency":
        return ' (a single-currency org: multi_currency = false and currency = "<ISO code>")'
    return ""


def _rejected(rid: str | None, exc: Exception, row: Mapping[str, Any]) -> Rejected:
    return Rejected(rid, "unreadable_row", {"error": str(exc), "row": v.plain(row)})


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
