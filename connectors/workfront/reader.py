"""How one Workfront stream is read, as pages for the runner.

Searches come sorted by ID (`ID_Sort=asc`), not by `lastUpdateDate`, so no page but a read's
last carries a checkpoint: the earlier of the time the read started on Workfront's clock (its
`Date` header) and the latest `lastUpdateDate` (or journal `entryDate`) the read saw, so a
`Date` that runs ahead of the clock stamping the rows never skips an edit; a read that saw
nothing keeps the stored checkpoint.

- **Full** (no checkpoint yet, or a stream without `lastUpdateDate`): every row. For hours
  and expenses the read sits between ScopeStart(stream) and ScopeEnd(stream), so the runner
  reverses the lines Workfront no longer lists (under the mass-delete guard).
- **Incremental**: the rows with `lastUpdateDate >= cursor` (the runner already took the
  lookback off). A cursor window is never a scope: it lists only what changed. Deleted hours
  and expenses then come from:
  - `deletes = "journal"`: journal entries (JRNLE) with `subObjCode=HOUR|EXPNS`,
    `changeType=D` and `entryDate >= cursor`, read before the rows. A journal Workfront does
    not let us read stops the stream with one line that says to set `deletes = "scan"`.
  - `deletes = "scan"`: no journal; instead, once every `scan_every` (the first run in each
    window of that length, counted from 1970-01-01 UTC, on Workfront's clock) the stream is
    read in full as a scope, so what vanished is reversed.
- **Listed** (predecessors and assignments, read in full every run; Workfront deletes them
  outright and documents no journal of them): the read remembers the IDs it listed in a
  token checkpoint (`connectors.kit.listing`) and ends with a page deleting those the last
  read listed and this one does not, under the kit's vanish guard (`max_vanished_share`,
  `max_vanished_min`: over it the stream stops, deleting none and keeping its checkpoint).
- **A project** (`--project <PROJ.ID>`): that project's hours or expenses in full as the scope
  `project:<ID>`, without a checkpoint.

Each read counts its rows first (`GET /<obj>/count`, logged as `workfront_read` with the
rows to come). A row that cannot be read is a `Rejected` row with the raw row; an hour whose
status leaves `hour_statuses` is a deletion.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

import structlog

from pmo_ledger.connectors.base import ConnectorContext, Cursor, Page, ReadRequest, SourceTotal
from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.kit.listing import Listing, stream_listing
from pmo_ledger.connectors.kit.pages import deletion_pages, scoped, unordered
from pmo_ledger.connectors.workfront import normalize as n
from pmo_ledger.connectors.workfront import values as v
from pmo_ledger.connectors.workfront.client import SessionRefused, WorkfrontClient, wire_time
from pmo_ledger.connectors.workfront.objects import ObjectStream
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings
from pmo_ledger.ledger.records import Record, Rejected

log = structlog.get_logger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How long a journal that tracks hours or expenses may go without an entry of them while
#: they change (see `StreamReader._journal_tracks`).
JOURNAL_QUIET = timedelta(days=7)


class StreamReader:
    """Reads one stream of one Workfront instance; built per extract call."""

    def __init__(
        self,
        client: WorkfrontClient,
        settings: WorkfrontSettings,
        stream: ObjectStream,
        context: ConnectorContext,
    ) -> None:
        self.client = client
        self.settings = settings
        self.stream = stream
        self.context = context
        self._lookups: n.Lookups | None = None
        #: The checkpoint's parts: the stored one, Workfront's clock at the read's start, the
        #: latest stamp read (see `_checkpointed`).
        self._kept: datetime | None = None
        self._started_at: datetime | None = None
        self._seen: datetime | None = None
        #: Rows the read's count announced (None before the count), and rows read so far.
        self._expected: int | None = None
        self._read = 0
        #: A listed stream's keys, this read's and the last one's (see `pages`).
        self._listing: Listing | None = None
        self.fields = stream.fields_with(settings)

    # --- what a read means -----------------------------------------------------------------

    def pages(self, request: ReadRequest) -> Iterator[Page]:
        """Pages for the request; see the module docstring."""
        stream = self.stream
        if request.scope is not None:
            return self._project(request.scope)
        if stream.journal == "HOUR":
            self._check_statuses()
        cursor = request.cursor
        stored = request.checkpoint.value if request.checkpoint is not None else None
        self._kept = stored if isinstance(stored, datetime) else None
        if stream.listed:
            self._listing = stream_listing(
                request.checkpoint,
                name=self.context.name,
                stream=stream.name,
                share=self.settings.max_vanished_share,
                minimum=self.settings.max_vanished_min,
                source="Workfront",
            )
        if cursor is None or not stream.incremental:
            return self._checkpointed(self._full())
        if not isinstance(cursor.value, datetime):
            raise ConnectorConfigError(f"stream {stream.name} reads from a timestamp cursor")
        if stream.journal and self.settings.deletes == "scan":
            return self._checkpointed(self._scan_or_incremental(cursor.value))
        return self._checkpointed(self._incremental(cursor.value))

    def _check_statuses(self) -> None:
        """Workfront's HOUR status codes are not published with certainty: when hours exist
        and none has a status of `hour_statuses`, every hour would silently be a deletion, so
        the stream stops with one line naming the codes found (from one page of hours)."""
        wanted = self.settings.hour_statuses
        if any(self.client.count("HOUR", {"status": c, "status_Mod": "eq"}) for c in wanted):
            return
        found = sorted(
            {str(r.get("status")) for r in next(self.client.search("HOUR", ("ID", "status")), [])}
        )
        if not found:
            return
        raise StreamConfigError(
            f"stream {self.stream.name}: no hour has a status of "
            f"connectors.{self.context.name}.hour_statuses ({', '.join(wanted)}); the hours "
            f"found have {', '.join(found)}: set hour_statuses to the codes that count"
        )

    def _checkpointed(self, pages: Iterator[Page]) -> Iterator[Page]:
        """The pages, the last one carrying the read's checkpoint: the earlier of Workfront's
        clock when the read started (its `Date` header) and the latest `lastUpdateDate` (or
        journal `entryDate`) read. The Date header alone is not safe: a server whose Date runs
        ahead of the clock that stamps its rows would put the checkpoint past edits not yet
        read. Nothing read: the stored checkpoint is kept. The count, once known (and again
        when a scan replaces it), rides on the next page as `Page.expected`."""
        last: Page | None = None
        announced: int | None = None
        for page in pages:
            if self._expected != announced:
                announced = self._expected
                page = replace(page, expected=announced)
            if last is not None:
                yield last
            last = page
        expected = self._expected or 0
        log.info(
            "workfront_read_done",
            connector=self.context.name,
            stream=self.stream.name,
            rows=self._read,
            expected=expected,
            summary=f"{self.stream.name}: {self._read:,} of {expected:,} expected",
        )
        seen, started = self._seen, self._started_at
        value = self._kept if seen is None else min(seen, started) if started else seen
        end = Cursor("timestamp", value) if value is not None else None
        if self._listing is not None:
            end = self._listing.checkpoint()
        final = Page(checkpoint=end) if last is None else replace(last, checkpoint=end)
        yield final if self._expected == announced else replace(final, expected=self._expected)

    def _saw(self, stamp: datetime | None) -> None:
        if stamp is not None and (self._seen is None or stamp > self._seen):
            self._seen = stamp

    def _scan_or_incremental(self, since: datetime) -> Iterator[Page]:
        """The changes since the cursor, or, when the stored checkpoint lies in an earlier
        `scan_every` window than Workfront's clock (known from the count's answer), the whole
        stream as a scope. The checkpoint is never later than the latest row read, so a
        server clock running ahead makes scans more frequent, never rarer."""
        started = self._started(_changed(since))
        stored = self._kept
        every = self.settings.scan_every
        if stored is not None and (stored - _EPOCH) // every == (started - _EPOCH) // every:
            yield from self._incremental(since, started)
            return
        log.info("workfront_scan", connector=self.context.name, stream=self.stream.name)
        yield from self._full()

    def _full(self) -> Iterator[Page]:
        started = self._started({})
        pages = chain.from_iterable(
            self._pages(obj, self._search(obj, _own(obj, self.fields))) for obj in self.stream.objs
        )
        self._started_at = started
        if self.stream.journal:
            yield from scoped(self.stream.name, pages, markers_apart=True)
        elif self._listing is not None:
            yield from self._listing.pages(pages)
        else:
            yield from unordered(pages, None)

    def _incremental(self, since: datetime, started: datetime | None = None) -> Iterator[Page]:
        changed = _changed(since)
        if started is None:  # before the journal: what it lists after is read next time
            started = self._started(changed)
        self._started_at = started
        deleted = self._journal(since) if self.stream.journal else []
        for obj in self.stream.objs:
            yield from self._pages(obj, self._search(obj, self.fields, changed))
        yield from deletion_pages(deleted, self.settings.page_size)

    def _project(self, scope: str) -> Iterator[Page]:
        kind, _, project_id = scope.partition(":")
        if kind not in self.stream.spec.scopes or not project_id:
            raise ConnectorConfigError(f"stream {self.stream.name} cannot re-sync scope {scope}")
        (obj,) = self.stream.objs
        ids = [pid for pid, own in self.lookups.keys.items() if own == project_id]
        each = _each_of("projectID", ids or [project_id])
        self._started(*each)
        rows = chain.from_iterable(self._search(obj, self.fields, f) for f in each)
        yield from scoped(scope, self._pages(obj, rows), markers_apart=True)

    def _search(
        self, obj: str, fields: Sequence[str], filters: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """The stream's rows; when Workfront refuses a field the stream can do without
        (`OPTIONAL_FIELDS`: not in every API model) on the first page, those fields are
        dropped for the rest of the read, once, with a log event."""
        pages = self.client.search(obj, fields, filters)
        optional = [f for f in fields if f in OPTIONAL_FIELDS.get(obj, ())]
        try:
            first = next(pages, None)
        except ConnectorError as exc:
            named = [f for f in optional if f in str(exc)]
            if "does not support field" not in str(exc) or not named:
                raise
            log.warning(
                "workfront_optional_fields_dropped",
                connector=self.context.name,
                stream=self.stream.name,
                fields=optional,
                error=str(exc),
            )
            self.fields = tuple(f for f in self.fields if f not in optional)
            fields = tuple(f for f in fields if f not in optional)
            pages = self.client.search(obj, fields, filters)
            first = next(pages, None)
        if first is not None:
            yield first
        yield from pages

    def _started(self, filters: Mapping[str, Any], *more: Mapping[str, Any]) -> datetime:
        """Count the rows to come (one call per object and filter), log it; Workfront's
        clock then."""
        rows = sum(self.client.count(obj, f) for obj in self.stream.objs for f in (filters, *more))
        self._expected = rows
        log.info(
            "workfront_read",
            connector=self.context.name,
            stream=self.stream.name,
            rows=rows,
            incremental=bool(filters) and "projectID" not in filters,
        )
        now: datetime = self.client.server_now
        return now

    # --- deletions from the journal ----------------------------------------------------

    def _journal(self, since: datetime) -> list[str]:
        """IDs of the stream's rows the journal says were deleted since `since`. A journal
        that cannot be read stops the stream with the fix (deletes = "scan")."""
        if self.settings.deletes != "journal":
            return []
        code = self.stream.journal
        filters = {
            "subObjCode": code,
            "changeType": "D",
            "entryDate": wire_time(since),
            "entryDate_Mod": "gte",
        }
        fields = ("ID", "subObjID", "subObjCode", "changeType", "entryDate")
        try:
            entries = [r for rows in self.client.search("JRNLE", fields, filters) for r in rows]
        except SessionRefused:
            raise
        except (SourceError, ConnectorConfigError) as exc:
            message = (
                f"stream {self.stream.name}: Workfront's journal (JRNLE) cannot be read "
                f"({exc}), so deleted {code} records would go unseen; set "
                f'connectors.{self.context.name}.deletes = "scan"'
            )
            log.warning(
                "workfront_journal_unavailable",
                connector=self.context.name,
                stream=self.stream.name,
                error=str(exc),
            )
            raise StreamConfigError(message) from exc
        newest = None
        for entry in entries:
            with suppress(ValueError):
                stamp = v.stamp(entry, "entryDate")
                newest = max(newest, stamp) if newest and stamp else newest or stamp
                self._saw(stamp)
        if self._expected and (newest is None or self._kept is None or newest <= self._kept):
            self._journal_tracks()
        ids = [i for i in (v.text(r, "subObjID") for r in entries) if i]
        return list(dict.fromkeys(ids))

    def _journal_tracks(self) -> None:
        """No deletion was journaled after the stored checkpoint: when rows of the stream
        changed after it (not merely within the lookback), the journal must hold some entry
        (an add, an edit, a delete) of the object in the `JOURNAL_QUIET` before it or since,
        else it does not track the object (Workfront's Update Feed settings) and deletions
        would go unseen. (An account that logs hours has added some within a week; an edit
        of a field the feed does not track, such as an approval, is not held against it.)"""
        if self._kept is None:
            return
        after = wire_time(self._kept + timedelta(milliseconds=1))
        code = self.stream.journal
        assert code is not None
        (obj,) = self.stream.objs
        changed = self.client.count(obj, {"lastUpdateDate": after, "lastUpdateDate_Mod": "gte"})
        quiet = wire_time(self._kept - JOURNAL_QUIET)
        journaled = {"subObjCode": code, "entryDate": quiet, "entryDate_Mod": "gte"}
        if not changed or self.client.count("JRNLE", journaled):
            return
        log.warning(
            "workfront_journal_silent",
            connector=self.context.name,
            stream=self.stream.name,
            changed=changed,
        )
        since = self._kept.isoformat()
        feed = f"its Update Feed does not track {code}"
        raise StreamConfigError(
            f"stream {self.stream.name}: {changed} {code} records changed since {since} but "
            f"Workfront's journal (JRNLE) records no {code} change in the "
            f"{JOURNAL_QUIET.days} days before ({feed}), so deleted ones would go unseen; "
            f'set connectors.{self.context.name}.deletes = "scan"'
        )

    # --- rows -> pages ---------------------------------------------------------------------

    @property
    def lookups(self) -> n.Lookups:
        if self._lookups is None:
            self._lookups = self._load_lookups()
        return self._lookups

    def _load_lookups(self) -> n.Lookups:
        needs = self.stream.needs
        at = n.Lookups(self.settings, self.context.calendar)
        if "projects" in needs:
            own = self.settings.project_key
            rows = list(self._all("PROJ", tuple(dict.fromkeys(("ID", "currency", own)))))
            at.currencies = {r["ID"]: v.text(r, "currency") for r in rows}
            if own != "ID":
                at.keys = {r["ID"]: k for r in rows if (k := v.text(r, own))}
        if "hierarchy" in needs:
            at.portfolios = self._names("PORT")
            at.programs = self._names("PRGM")
        if "tasks" in needs:
            fields = (
                "ID", "projectID", "plannedStartDate", "plannedCompletionDate", "durationMinutes",
            )  # fmt: skip
            at.tasks = {r["ID"]: self._dates(r) for r in self._all("TASK", fields)}
        return at

    def _all(self, obj: str, fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        for rows in self.client.search(obj, fields):
            yield from (r for r in rows if r.get("ID"))

    def _names(self, obj: str) -> dict[str, str]:
        return {r["ID"]: v.text(r, "name") or r["ID"] for r in self._all(obj, ("ID", "name"))}

    @staticmethod
    def _dates(row: Mapping[str, Any]) -> n.TaskDates:
        try:
            start, finish = v.day(row, "plannedStartDate"), v.day(row, "plannedCompletionDate")
        except ValueError:
            start = finish = None
        try:
            minutes = v.decimal(row, "durationMinutes", ratio=True)
        except ValueError:
            minutes = None
        days = minutes / n.MINUTES_PER_DAY if minutes is not None else None
        return n.TaskDates(v.text(row, "projectID"), start, finish, days)

    def _pages(self, obj: str, batches: Iterable[list[dict[str, Any]]]) -> Iterator[Page]:
        for rows in batches:
            yield self._page(obj, rows)

    def _page(self, obj: str, rows: Sequence[Mapping[str, Any]]) -> Page:
        at = self.lookups
        records: list[Record] = []
        deletions: list[str] = []
        rejected: list[Rejected] = []
        crossing: list[str] = []
        self._read += len(rows)
        for row in rows:
            rid = v.text(row, "ID")
            with suppress(ValueError):
                self._saw(v.stamp(row))
            try:
                if self.stream.name == "rates":
                    out = n.rate(row, at, obj)
                    rid = f"{obj}/{rid}"
                else:
                    out = self.stream.normalize(row, at)
            except ValueError as exc:
                reason = "unreadable_row"
                rejected.append(Rejected(rid, reason, {"error": str(exc), "row": v.plain(row)}))
                continue
            if out is None:
                if rid:
                    deletions.append(self._deleted_key(rid))
            elif isinstance(out, list):
                records.extend(out)
            else:
                records.append(out)
                if self.stream.name == "dependencies" and n.crosses_projects(row, at):
                    crossing.append(out.external_id)
        if crossing:
            log.warning(
                "workfront_cross_project_dependencies",
                connector=self.context.name,
                count=len(crossing),
                ids=crossing[:20],
            )
        return Page(records, deletions, rejected)

    def _deleted_key(self, rid: str) -> str:
        return f"{rid}/current" if self.stream.name == "budgets" else rid

    # --- control totals ----------------------------------------------------------------

    def control_totals(self) -> list[SourceTotal] | None:
        """Per project and currency of the rows that count: count, the sum of the amount and,
        for hours, of the hours. Only what Workfront documents is asked: each `report` holds
        one `<field>_AggFunc=sum` grouped by `projectID_1_GroupBy=true`, the rows without a
        project come from the same report filtered `projectID_Mod=isnull` (ungrouped), the
        counts from `count` per project, and several statuses are one call each (no `in`).
        A group key that is not a project ID is refused. None for streams without amounts."""
        stream = self.stream
        if stream.amount is None:
            return None
        (obj,) = stream.objs
        wheres: list[tuple[dict[str, Any], bool]] = [({}, False)]
        if stream.journal == "HOUR":
            # Hours without actualCost are valued by the ledger in the default currency: their
            # group is asked apart, with no amount stated.
            wheres = [
                ({**status, f"{stream.amount}_Mod": mod}, mod == "isnull")
                for status in _each_of("status", self.settings.hour_statuses)
                for mod in ("notnull", "isnull")
            ]
        sums: dict[tuple[str | None, str], list[Any]] = defaultdict(
            lambda: [0, Decimal(0), Decimal(0)]
        )
        fields = [f for f in (stream.amount, stream.hours) if f]
        for where, valued in wheres:
            figures: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
            for field_name in fields:
                if valued and field_name == stream.amount:
                    continue
                for project, total in self._sums(obj, field_name, where).items():
                    figures[project][field_name] = total
            for project in figures:
                currency = (
                    self.settings.default_currency if valued else self.lookups.currency(project)
                )
                only = {"projectID_Mod": "isnull"} if project is None else {"projectID": project}
                count = self.client.count(obj, {**where, **only})
                if not count:
                    continue  # e.g. no row without a project: the report's sum is 0
                key = (self.lookups.project_ref(project), currency)
                sums[key][0] += count
                sums[key][1] += figures[project].get(stream.amount, Decimal(0))
                if stream.hours:
                    sums[key][2] += figures[project].get(stream.hours, Decimal(0))
        return [
            SourceTotal(p, c, count, amount, hours if stream.hours else None)
            for (p, c), (count, amount, hours) in sums.items()
        ]

    def _sums(self, obj: str, field: str, where: Mapping[str, Any]) -> dict[str | None, Decimal]:
        """`sum` of `field` per project ID (None: the rows without a project), at scale."""
        asked = {**where, f"{field}_AggFunc": "sum"}
        out: dict[str | None, Decimal] = {}
        known = self.lookups.currencies
        for group, figures in self.client.report(
            obj, {**asked, "projectID_1_GroupBy": "true"}
        ).items():
            if group.startswith("$$") or group in ("", "null"):
                continue  # the rows without a project are asked apart, below
            if group not in known or not isinstance(figures, Mapping):
                raise SourceError(
                    f"{self.context.name}: {obj} report grouped by projectID answered the "
                    f"group {group!r}, which is not a project ID"
                )
            out[group] = _agg(figures, field)
        orphans = self.client.report(obj, {**asked, "projectID_Mod": "isnull"})
        if orphans.get(f"sum_{field}") is not None:
            out[None] = _agg(orphans, field)
        return out


def _changed(since: datetime) -> dict[str, str]:
    """The filter of rows changed since `since`."""
    return {"lastUpdateDate": wire_time(since), "lastUpdateDate_Mod": "gte"}


#: Fields read when the account's API model has them (not in source-apis section 2.5): a
#: refusal drops them (see `StreamReader._search`).
OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    "PROJ": frozenset({"referenceNumber"}),
    "USER": frozenset({"emailAddr", "isActive"}),
}


#: Objects without `lastUpdateDate` (asking for it is an error: "APIModel V19_0 does not
#: support field lastUpdateDate (Role)").
_UNSTAMPED = frozenset({"ROLE", "PRED", "ASSGN"})


def _own(obj: str, fields: Sequence[str]) -> tuple[str, ...]:
    """The fields `obj` has of those a stream asks for."""
    return tuple(f for f in fields if obj not in _UNSTAMPED or f != "lastUpdateDate")


def _each_of(field: str, values: Sequence[str]) -> list[dict[str, Any]]:
    """One `eq` filter per value: Workfront documents no `in` modifier, and its `OR:n:`
    groups would have to repeat every other filter."""
    return [{field: value, f"{field}_Mod": "eq"} for value in dict.fromkeys(values)]


def _agg(figures: Mapping[str, Any], field: str) -> Decimal:
    value = figures.get(f"sum_{field}")
    return v.at_scale(value) if value is not None else Decimal(0)
