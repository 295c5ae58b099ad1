"""Applying resources, their cost rates, capacity and planned allocations.

Resources are keyed by (source, external_id) with a content hash; rates by (source,
external_id); capacity by (resource, period); allocations by (source, stream, external_id,
period). Each write is diffed against the stored row first, so a replay writes nothing.
resource_rate and resource_capacity have no deleted_at: a deleted rate or capacity row is
removed (lines valued with a rate keep the rate they used, rule 9).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.currencies import is_currency
from pmo_ledger.ledger.models import Allocation, Resource, ResourceCapacity, ResourceRate, table_of
from pmo_ledger.ledger.records import (
    AllocationRecord,
    CapacityRecord,
    ResourceRateRecord,
    ResourceRecord,
)
from pmo_ledger.ledger.resolve import UNMAPPED, Placement, resolve_keys, resolve_projects
from pmo_ledger.ledger.time.calendar import parse_period
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import RATE_Q, is_period, number_problem, q, stored_rows
from pmo_ledger.ledger.write.record_writer import RecordWriter, Row

_resource: Table = table_of(Resource)
_rate: Table = table_of(ResourceRate)
_capacity: Table = table_of(ResourceCapacity)
_alloc: Table = table_of(Allocation)


class ResourceWriter(RecordWriter[ResourceRecord]):
    """Upsert resources by (source, external_id); deletions set deleted_at.
    Held: 'missing_key', 'missing_name'."""

    record_type = ResourceRecord
    table = _resource
    update = (
        "name",
        "email",
        "role",
        "department",
        "active",
        "content_hash",
        "deleted_at",
        "updated_at",
    )

    def validate(self, record: ResourceRecord) -> tuple[str, str] | None:
        if not record.external_id or not record.name:
            reason = "missing_key" if not record.external_id else "missing_name"
            return reason, "a resource needs an external id and a name"
        return None

    def row(self, key: str, record: ResourceRecord, old: Row | None) -> dict[str, Any]:
        return {
            "external_id": key,
            "name": record.name,
            "email": record.email,
            "role": record.role,
            "department": record.department,
            "active": record.active,
            "content_hash": content_hash(record),
            "deleted_at": None,
        }


def validate_rate(r: ResourceRateRecord) -> tuple[str, str] | None:
    """(reason, detail) when a cost rate cannot be applied, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if not r.resource_ref and not r.role:
        return "missing_rate_target", "a rate names a resource or a role"
    if not is_currency(r.currency):
        return "unknown_currency", f"unknown currency {r.currency!r}"
    if not isinstance(r.cost_rate, Decimal) or not r.cost_rate.is_finite() or r.cost_rate <= 0:
        return "bad_rate", f"cost_rate must be a positive Decimal, got {r.cost_rate!r}"
    return None


class ResourceRateWriter(RecordWriter[ResourceRateRecord]):
    """Upsert cost rates (per hour, in `currency`) of a resource or a role; deletions remove
    the rate. Held: validation reasons, 'unknown_resource'."""

    record_type = ResourceRateRecord
    table = _rate
    update = ("resource_id", "role", "effective_from", "cost_rate", "currency", "updated_at")

    def validate(self, record: ResourceRateRecord) -> tuple[str, str] | None:
        return validate_rate(record)

    def resolve(self, valid: Mapping[str, ResourceRateRecord]) -> None:
        refs = (r.resource_ref or "" for r in valid.values())
        self.resources = resolve_keys(self.ctx.session, self.ctx.source, "resource", refs)

    def row(self, key: str, record: ResourceRateRecord, old: Row | None) -> dict[str, Any] | None:
        r = record
        if r.resource_ref and r.resource_ref not in self.resources:
            self.hold(key, "unknown_resource", f"no resource {r.resource_ref!r}", r)
            return None
        return {
            "external_id": key,
            "resource_id": self.resources.get(r.resource_ref) if r.resource_ref else None,
            "role": r.role,
            "effective_from": r.effective_from,
            "cost_rate": q(r.cost_rate, RATE_Q),
            "currency": r.currency,
        }

    def delete(self, deletions: Sequence[str]) -> int:
        s = self.ctx.session
        gone = stored_rows(s, _rate, "external_id", deletions, *self.here())
        if gone:
            s.execute(delete(_rate).where(_rate.c.id.in_([row["id"] for row in gone.values()])))
        return len(gone)


def _period_problem(ctx: WriteContext, period: str) -> tuple[str, str] | None:
    try:
        parse_period(period)
    except (ValueError, TypeError) as exc:
        return "bad_period", str(exc)
    if not ctx.periods.contains(period):
        return "bad_period", f"no fiscal period {period} in calendar {ctx.periods.calendar}"
    return None


def _hours_problem(value: Any) -> tuple[str, str] | None:
    problem = number_problem("hours", value)
    if problem is None and value < 0:
        return "bad_hours", f"hours cannot be negative, got {value}"
    return problem


def _capacity_rows(
    session: Session, source: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored capacity of these (resource external id, period) pairs of `source`."""
    wanted = set(keys)
    if not wanted:
        return {}
    staging.fill(session, staging.stage_key, [{"external_id": r, "ref": p} for r, p in wanted])
    k = staging.stage_key
    rows = session.execute(
        select(_capacity, _resource.c.external_id.label("resource_ref"))
        .join(_resource, _resource.c.id == _capacity.c.resource_id)
        .join(k, and_(k.c.external_id == _resource.c.external_id, k.c.ref == _capacity.c.period))
        .where(_resource.c.source == source)
    ).mappings()
    return {(r["resource_ref"], r["period"]): dict(r) for r in rows}


class CapacityWriter(RecordWriter[CapacityRecord]):
    """Upsert hours a resource can work per period, by (resource, period). Deletions
    ('<resource_ref>/<period>') remove the row. Held: 'bad_period', 'bad_hours',
    'bad_number', 'unknown_resource'."""

    record_type = CapacityRecord
    table = _capacity
    conflict = ("resource_id", "period")
    update = ("hours", "source", "updated_at")

    def cover(self, latest: Mapping[str, CapacityRecord]) -> None:
        self.ctx.cover_periods({r.period for r in latest.values() if is_period(r.period)})

    def validate(self, record: CapacityRecord) -> tuple[str, str] | None:
        return _period_problem(self.ctx, record.period) or _hours_problem(record.hours)

    def resolve(self, valid: Mapping[str, CapacityRecord]) -> None:
        refs = (r.resource_ref for r in valid.values())
        self.resources = resolve_keys(self.ctx.session, self.ctx.source, "resource", refs)

    def stored(self, valid: Mapping[str, CapacityRecord]) -> Mapping[Any, Row]:
        pairs = ((r.resource_ref, r.period) for r in valid.values())
        return _capacity_rows(self.ctx.session, self.ctx.source, pairs)

    def stored_key(self, key: str, record: CapacityRecord) -> Hashable:
        return (record.resource_ref, record.period)

    def row(self, key: str, record: CapacityRecord, old: Row | None) -> dict[str, Any] | None:
        if record.resource_ref not in self.resources:
            self.hold(key, "unknown_resource", f"no resource {record.resource_ref!r}", record)
            return None
        return {"hours": q(record.hours), "source": self.ctx.source}

    def new_row(self, key: str, record: CapacityRecord, row: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "resource_id": self.resources[record.resource_ref],
            "period": record.period,
            "updated_at": self.ctx.recorded_at,
        }

    def delete(self, deletions: Sequence[str]) -> int:
        s = self.ctx.session
        pairs = [tuple(k.rsplit("/", 1)) for k in deletions if "/" in k]
        gone = _capacity_rows(s, self.ctx.source, pairs)  # type: ignore[arg-type]
        if gone:
            s.execute(delete(_capacity).where(_capacity.c.id.in_([r["id"] for r in gone.values()])))
        return len(gone)


def _allocation_key(r: AllocationRecord) -> str:
    """Quarantine key: one source allocation spans periods, each its own row."""
    return f"{r.external_id}@{r.period}"


def validate_allocation(ctx: WriteContext, r: AllocationRecord) -> tuple[str, str] | None:
    """(reason, detail) when an allocation cannot be applied, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if not r.resource_ref and not r.role:
        return "missing_resource", "an allocation names a resource or a role"
    return _period_problem(ctx, r.period) or _hours_problem(r.planned_hours)


class AllocationWriter(RecordWriter[AllocationRecord]):
    """Upsert planned hours by (source, stream, external_id, period); a deletion of an
    external id sets deleted_at on all its periods, and so does a batch on the periods of
    its `whole` external ids that it no longer lists. Held (keyed '<external_id>@<period>'):
    validation reasons, 'unknown_resource' (not loaded), 'unmapped' (loaded under UNMAPPED)."""

    record_type = AllocationRecord
    table = _alloc
    conflict = ("source", "stream", "external_id", "period")
    update = (
        "resource_id",
        "role",
        "project_id",
        "task_id",
        "planned_hours",
        "deleted_at",
        "updated_at",
    )
    by_stream = True

    def key(self, record: AllocationRecord) -> str:
        return _allocation_key(record)

    def cover(self, latest: Mapping[str, AllocationRecord]) -> None:
        self.ctx.cover_periods({r.period for r in latest.values() if is_period(r.period)})

    def validate(self, record: AllocationRecord) -> tuple[str, str] | None:
        return validate_allocation(self.ctx, record)

    def resolve(self, valid: Mapping[str, AllocationRecord]) -> None:
        s, ctx, source = self.ctx.session, self.ctx, self.ctx.source
        refs = {(r.project_ref_type, r.project_ref) for r in valid.values()}
        self.placements = resolve_projects(s, ctx.settings, source, refs, ctx.recorded_at)
        resources = (r.resource_ref or "" for r in valid.values())
        self.resources = resolve_keys(s, source, "resource", resources)
        self.tasks = resolve_keys(s, source, "task", (r.task_ref or "" for r in valid.values()))

    def stored(self, valid: Mapping[str, AllocationRecord]) -> Mapping[Any, Row]:
        pairs = ((r.external_id, r.period) for r in valid.values())
        return _allocation_rows(self.ctx.session, self.ctx.source, self.stream, pairs)

    def stored_key(self, key: str, record: AllocationRecord) -> Hashable:
        return (record.external_id, record.period)

    def row(self, key: str, record: AllocationRecord, old: Row | None) -> dict[str, Any] | None:
        r = record
        if r.resource_ref and r.resource_ref not in self.resources:
            self.hold(key, "unknown_resource", f"no resource {r.resource_ref!r}", r)
            return None
        placement: Placement = self.placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
        if not placement.mapped:
            detail = f"no project for {r.project_ref_type} {r.project_ref!r}"
            self.hold(key, "unmapped", detail, r)
        return {
            "resource_id": self.resources.get(r.resource_ref) if r.resource_ref else None,
            "role": r.role,
            "project_id": placement.project_id,
            "task_id": self.tasks.get(r.task_ref) if r.task_ref else placement.task_id,
            "planned_hours": q(r.planned_hours),
            "deleted_at": None,
        }

    def new_row(self, key: str, record: AllocationRecord, row: dict[str, Any]) -> dict[str, Any]:
        now = self.ctx.recorded_at
        return {
            **row,
            "source": self.ctx.source,
            "stream": self.stream,
            "external_id": record.external_id,
            "period": record.period,
            "created_at": now,
            "updated_at": now,
        }

    def closed(self, deletions: Sequence[str]) -> Iterable[str]:
        return _allocation_keys(self.ctx.session, deletions, *self.here())

    def after(
        self,
        valid: Mapping[str, AllocationRecord],
        rows: list[dict[str, Any]],
        existing: Mapping[Any, Row],
        loaded: dict[str, Any],
    ) -> None:
        """An external id whose records say `whole` (the connector sends all its periods
        together): its live periods not in the batch are closed, so planned hours that moved
        to other periods (a task rescheduled) are not counted twice. Records without `whole`
        leave the other periods alone (a source may send one period at a time)."""
        listed: dict[str, set[str]] = {}
        for r in self.latest_records.values():
            if r.whole:
                listed.setdefault(r.external_id, set()).add(r.period)
        if not listed:
            return
        t = self.table
        live = self.ctx.session.execute(
            select(t.c.id, t.c.external_id, t.c.period).where(
                *self.here(), t.c.external_id.in_(list(listed)), t.c.deleted_at.is_(None)
            )
        ).all()
        stale = [i for i, eid, period in live if period not in listed[eid]]
        if stale:
            now = self.ctx.recorded_at
            self.ctx.session.execute(
                update(t).where(t.c.id.in_(stale)).values(deleted_at=now, updated_at=now)
            )


apply_resources = ResourceWriter.apply
apply_resource_rates = ResourceRateWriter.apply
apply_capacity = CapacityWriter.apply
apply_allocations = AllocationWriter.apply


def _allocation_rows(
    session: Session, source: str, stream: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored allocations of these (external_id, period) pairs, by pair."""
    wanted = set(keys)
    if not wanted:
        return {}
    staging.fill(session, staging.stage_key, [{"external_id": e, "ref": p} for e, p in wanted])
    k = staging.stage_key
    rows = session.execute(
        select(_alloc)
        .join(k, and_(k.c.external_id == _alloc.c.external_id, k.c.ref == _alloc.c.period))
        .where(_alloc.c.source == source, _alloc.c.stream == stream)
    ).mappings()
    return {(r["external_id"], r["period"]): dict(r) for r in rows}


def _allocation_keys(session: Session, external_ids: Iterable[str], *where: Any) -> list[str]:
    """Quarantine keys ('<external_id>@<period>') of the stored periods of these ids."""
    wanted = set(external_ids)
    if not wanted:
        return []
    staging.fill(session, staging.stage_key, [{"external_id": e} for e in wanted])
    k = staging.stage_key
    rows = session.execute(
        select(_alloc.c.external_id, _alloc.c.period)
        .join(k, k.c.external_id == _alloc.c.external_id)
        .where(*where)
    )
    return [f"{e}@{p}" for e, p in rows]
