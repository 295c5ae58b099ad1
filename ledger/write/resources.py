"""Applying resources, their cost rates, capacity and planned allocations.

Resources are keyed by (source, external_id) with a content hash; rates by (source,
external_id); capacity by (resource, period); allocations by (source, stream, external_id,
period). Each write is diffed against the stored row first, so a replay writes nothing.
resource_rate and resource_capacity have no deleted_at: a deleted rate or capacity row is
removed (lines valued with a rate keep the rate they used, rule 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.calendar import parse_period
from pmo_ledger.ledger.currencies import is_currency
from pmo_ledger.ledger.models import Allocation, Resource, ResourceCapacity, ResourceRate, table_of
from pmo_ledger.ledger.records import (
    AllocationRecord,
    CapacityRecord,
    ResourceRateRecord,
    ResourceRecord,
)
from pmo_ledger.ledger.resolve import UNMAPPED, resolve_keys, resolve_projects
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import (
    RATE_Q,
    differs,
    is_period,
    latest_by_key,
    number_problem,
    q,
    soft_delete,
    stored_rows,
)
from pmo_ledger.ledger.write.keyed_rows import held as held_item
from pmo_ledger.ledger.write.stats import ApplyStats

_resource: Table = table_of(Resource)
_rate: Table = table_of(ResourceRate)
_capacity: Table = table_of(ResourceCapacity)
_alloc: Table = table_of(Allocation)


_RESOURCE_UPDATE = [
    "name",
    "email",
    "role",
    "department",
    "active",
    "content_hash",
    "deleted_at",
    "updated_at",
]


def _resolve_gone(
    ctx: WriteContext,
    stream: str,
    loaded: dict[str, datetime | None],
    deletions: Iterable[str],
) -> None:
    """Close the quarantine entries of keys that loaded or were deleted."""
    now = ctx.recorded_at
    quarantine.resolve(ctx.session, ctx.source, stream, loaded, "loaded", now)
    quarantine.resolve(ctx.session, ctx.source, stream, dict.fromkeys(deletions), "deleted", now)


def apply_resources(
    ctx: WriteContext,
    stream: str,
    records: Sequence[ResourceRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert resources by (source, external_id); deletions set deleted_at.
    Held: 'missing_key', 'missing_name'."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    existing = stored_rows(
        s, _resource, "external_id", (r.external_id for r in records), _resource.c.source == source
    )
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in latest_by_key(records).items():
        if not key or not r.name:
            reason = "missing_key" if not key else "missing_name"
            held.append(held_item(key, reason, "a resource needs an external id and a name", r))
            continue
        loaded[key] = r.source_modified_at
        row = {
            "external_id": key,
            "name": r.name,
            "email": r.email,
            "role": r.role,
            "department": r.department,
            "active": r.active,
            "content_hash": content_hash(r),
            "deleted_at": None,
        }
        old = existing.get(key)
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append({**row, "source": source, "created_at": now, "updated_at": now})
    upsert(s, _resource, rows, ["source", "external_id"], update=_RESOURCE_UPDATE)
    stats.written = len(rows)
    stats.deleted = soft_delete(
        s, _resource, "external_id", deletions, now, _resource.c.source == source
    )
    _resolve_gone(ctx, stream, loaded, deletions)
    return stats


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


def apply_resource_rates(
    ctx: WriteContext,
    stream: str,
    records: Sequence[ResourceRateRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert cost rates (per hour, in `currency`) of a resource or a role; deletions remove
    the rate. Held: validation reasons, 'unknown_resource'."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    valid: dict[str, ResourceRateRecord] = {}
    for key, r in latest_by_key(records).items():
        problem = validate_rate(r)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    resources = resolve_keys(s, source, "resource", (r.resource_ref or "" for r in valid.values()))
    existing = stored_rows(s, _rate, "external_id", valid, _rate.c.source == source)
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in valid.items():
        if r.resource_ref and r.resource_ref not in resources:
            held.append(held_item(key, "unknown_resource", f"no resource {r.resource_ref!r}", r))
            continue
        loaded[key] = r.source_modified_at
        row = {
            "external_id": key,
            "resource_id": resources.get(r.resource_ref) if r.resource_ref else None,
            "role": r.role,
            "effective_from": r.effective_from,
            "cost_rate": q(r.cost_rate, RATE_Q),
            "currency": r.currency,
        }
        old = existing.get(key)
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append({**row, "source": source, "created_at": now, "updated_at": now})
    upsert(
        s,
        _rate,
        rows,
        ["source", "external_id"],
        update=["resource_id", "role", "effective_from", "cost_rate", "currency", "updated_at"],
    )
    stats.written = len(rows)
    gone = stored_rows(s, _rate, "external_id", deletions, _rate.c.source == source)
    if gone:
        s.execute(delete(_rate).where(_rate.c.id.in_([row["id"] for row in gone.values()])))
    stats.deleted = len(gone)
    _resolve_gone(ctx, stream, loaded, deletions)
    return stats


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


def apply_capacity(
    ctx: WriteContext,
    stream: str,
    records: Sequence[CapacityRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert hours a resource can work per period, by (resource, period). Deletions
    ('<resource_ref>/<period>') remove the row. Held: 'bad_period', 'bad_hours',
    'bad_number', 'unknown_resource'."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    latest = latest_by_key(records)
    ctx.cover_periods({r.period for r in latest.values() if is_period(r.period)})
    valid: dict[str, CapacityRecord] = {}
    for key, r in latest.items():
        problem = _period_problem(ctx, r.period) or _hours_problem(r.hours)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    resources = resolve_keys(s, source, "resource", (r.resource_ref for r in valid.values()))
    existing = _capacity_rows(s, source, ((r.resource_ref, r.period) for r in valid.values()))
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in valid.items():
        if r.resource_ref not in resources:
            held.append(held_item(key, "unknown_resource", f"no resource {r.resource_ref!r}", r))
            continue
        loaded[key] = r.source_modified_at
        row = {"hours": q(r.hours), "source": source}
        old = existing.get((r.resource_ref, r.period))
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append(
            {**row, "resource_id": resources[r.resource_ref], "period": r.period, "updated_at": now}
        )
    upsert(s, _capacity, rows, ["resource_id", "period"], update=["hours", "source", "updated_at"])
    stats.written = len(rows)
    pairs = [tuple(k.rsplit("/", 1)) for k in deletions if "/" in k]
    gone = _capacity_rows(s, source, pairs)  # type: ignore[arg-type]
    if gone:
        s.execute(delete(_capacity).where(_capacity.c.id.in_([r["id"] for r in gone.values()])))
    stats.deleted = len(gone)
    _resolve_gone(ctx, stream, loaded, deletions)
    return stats


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


def apply_allocations(
    ctx: WriteContext,
    stream: str,
    records: Sequence[AllocationRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert planned hours by (source, stream, external_id, period); a deletion of an
    external id sets deleted_at on all its periods. Held (keyed '<external_id>@<period>'):
    validation reasons, 'unknown_resource' (not loaded), 'unmapped' (loaded under UNMAPPED)."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    latest = latest_by_key(records, _allocation_key)
    ctx.cover_periods({r.period for r in latest.values() if is_period(r.period)})
    valid: dict[str, AllocationRecord] = {}
    for key, r in latest.items():
        problem = validate_allocation(ctx, r)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    placements = resolve_projects(
        s, ctx.settings, source, {(r.project_ref_type, r.project_ref) for r in valid.values()}, now
    )
    resources = resolve_keys(s, source, "resource", (r.resource_ref or "" for r in valid.values()))
    tasks = resolve_keys(s, source, "task", (r.task_ref or "" for r in valid.values()))
    existing = _allocation_rows(
        s, source, stream, ((r.external_id, r.period) for r in valid.values())
    )
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in valid.items():
        if r.resource_ref and r.resource_ref not in resources:
            held.append(held_item(key, "unknown_resource", f"no resource {r.resource_ref!r}", r))
            continue
        placement = placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
        if placement.mapped:
            loaded[key] = r.source_modified_at
        else:
            detail = f"no project for {r.project_ref_type} {r.project_ref!r}"
            held.append(held_item(key, "unmapped", detail, r))
        row = {
            "resource_id": resources.get(r.resource_ref) if r.resource_ref else None,
            "role": r.role,
            "project_id": placement.project_id,
            "task_id": tasks.get(r.task_ref) if r.task_ref else placement.task_id,
            "planned_hours": q(r.planned_hours),
            "deleted_at": None,
        }
        old = existing.get((r.external_id, r.period))
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append(
            {
                **row,
                "source": source,
                "stream": stream,
                "external_id": r.external_id,
                "period": r.period,
                "created_at": now,
                "updated_at": now,
            }
        )
    upsert(s, _alloc, rows, ["source", "stream", "external_id", "period"], update=_ALLOC_UPDATE)
    stats.written = len(rows)
    here = (_alloc.c.source == source, _alloc.c.stream == stream)
    gone = _allocation_keys(s, deletions, *here)
    stats.deleted = soft_delete(s, _alloc, "external_id", deletions, now, *here)
    _resolve_gone(ctx, stream, loaded, gone)
    return stats


_ALLOC_UPDATE = (
    "resource_id",
    "role",
    "project_id",
    "task_id",
    "planned_hours",
    "deleted_at",
    "updated_at",
)


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
