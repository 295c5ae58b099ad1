"""Running a SOQL query against the org: filter, group, order, limit, and the result as REST
records (JSON-ready) or Bulk API 2.0 CSV rows.

A query reads one snapshot of the org, taken when it runs; REST cursors and Bulk jobs keep
what it produced, so later writes do not shift their pages (a cursor is a snapshot).

Shapes follow Salesforce: each record has `attributes {type, url}` then the selected fields in
SELECT order; a relationship path nests an object with its own attributes, or null when the
lookup is empty. `SELECT COUNT()` has no records, only totalSize. Aggregate queries give
`AggregateResult` records keyed by grouped field names and aliases (`expr0`, `expr1`, ...
for unaliased aggregates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.salesforce.sandbox.bind import (
    BoundPath,
    Row,
    Snapshot,
    bind_path,
    compile_where,
    objects_of,
    parent,
    sort_key,
)
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.schema import (
    NUMBER_TYPES,
    FieldDef,
    FieldType,
    ObjectDef,
)
from pmo_ledger.connectors.salesforce.sandbox.soql import Aggregate, Path, Query, parse
from pmo_ledger.connectors.salesforce.sandbox.soql_tokens import SoqlError, located
from pmo_ledger.connectors.salesforce.sandbox.values import Value, csv_cell, wire

_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be "
    "sure to append the '__c' after the entity name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What a REST query produced: every record (pages are cut from it) and totalSize."""

    sobject: str
    total_size: int
    records: list[dict[str, Any]]
    aggregate: bool


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a Bulk API 2.0 query produced: the CSV header and rows (None: null)."""

    sobject: str
    columns: list[str]
    rows: list[list[str | None]]


@dataclass(frozen=True, slots=True)
class _Agg:
    function: str
    path: BoundPath | None
    key: str


_Group = tuple[dict[str, Value], list[Row]]  # grouped values by path text, member rows


@dataclass(frozen=True, slots=True)
class _Plan:
    query: Query
    root: ObjectDef
    items: list[BoundPath | _Agg]
    group_by: list[BoundPath]
    orders: list[tuple[BoundPath | _Agg, bool, bool]]
    count_only: bool
    aggregate: bool
    objects: set[str]
    predicate: Callable[[Row, Snapshot], bool]

    @property
    def fields(self) -> list[BoundPath]:
        return [i for i in self.items if isinstance(i, BoundPath)]


def run_query(org: FakeOrg, text: str, *, include_deleted: bool, version: str) -> QueryResult:
    """Run a query for the REST API (`version` goes into record URLs). Raises SoqlError."""
    plan = _plan(org, text)
    snapshot = org.snapshot(plan.objects)
    rows = _matching(plan, snapshot, include_deleted)
    limit = plan.query.limit
    if plan.count_only:
        return QueryResult(plan.root.name, _capped(len(rows), limit), [], True)
    if plan.aggregate:
        groups = _sorted_groups(plan, _groups(plan, rows, snapshot), snapshot)[:limit]
        records = [_aggregate_record(plan, group, snapshot) for group in groups]
        return QueryResult(plan.root.name, len(records), records, True)
    rows = _sorted_rows(plan, rows, snapshot)[:limit]
    records = [_record(plan, row, snapshot, version) for row in rows]
    return QueryResult(plan.root.name, len(records), records, False)


def run_bulk(org: FakeOrg, text: str, *, include_deleted: bool) -> BulkResult:
    """Run a query for Bulk API 2.0 (no aggregates there). Raises SoqlError."""
    plan = _plan(org, text)
    if plan.aggregate:
        raise SoqlError("INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0")
    snapshot = org.snapshot(plan.objects)
    rows = _sorted_rows(plan, _matching(plan, snapshot, include_deleted), snapshot)
    rows = rows[: plan.query.limit]
    columns = [f.text for f in plan.fields]
    cells = [[csv_cell(f.value(row, snapshot)) for f in plan.fields] for row in rows]
    return BulkResult(plan.root.name, columns, cells)


def _capped(count: int, limit: int | None) -> int:
    return count if limit is None else min(count, limit)


# --- planning ------------------------------------------------------------------------------


def _plan(org: FakeOrg, text: str) -> _Plan:
    query = parse(text)
    try:
        root = org.describe(query.sobject)
    except KeyError:
        reason = _NO_TYPE.format(name=query.sobject)
        raise located("INVALID_TYPE", text, query.sobject_pos, reason) from None

    def bind(path: Path) -> BoundPath:
        return bind_path(org.schema, root, path, text)

    items: list[BoundPath | _Agg] = []
    seen: set[str] = set()
    unnamed = 0
    for item in query.select:
        if isinstance(item, Path):
            bound = bind(item)
            if bound.text.casefold() in seen:
                reason = f"duplicate field selected: {bound.text}"
                raise located("MALFORMED_QUERY", text, item.pos, reason)
            seen.add(bound.text.casefold())
            items.append(bound)
            continue
        agg = _bind_aggregate(item, bind, text, unnamed)
        if item.alias is None:
            unnamed += 1
        items.append(agg)
    count_only = any(isinstance(i, _Agg) and i.path is None for i in items)
    if count_only and (len(items) > 1 or query.group_by):
        raise located("MALFORMED_QUERY", text, query.select[0].pos, "COUNT() must be alone")
    group_by = [bind(p) for p in query.group_by]
    aggregate = bool(group_by) or any(isinstance(i, _Agg) for i in items)
    grouped = {g.text.casefold() for g in group_by}
    for written, bound_item in zip(query.select, items, strict=True):
        if not aggregate or not isinstance(bound_item, BoundPath):
            continue
        if bound_item.text.casefold() not in grouped:
            reason = f"Field must be grouped or aggregated: {bound_item.text}"
            raise located("MALFORMED_QUERY", text, written.pos, reason)
    orders: list[tuple[BoundPath | _Agg, bool, bool]] = []
    for order in query.order_by:
        key: BoundPath | _Agg
        if isinstance(order.key, Aggregate):
            if not aggregate:
                reason = "Aggregate functions in ORDER BY need an aggregate query"
                raise located("MALFORMED_QUERY", text, order.key.pos, reason)
            key = _bind_aggregate(order.key, bind, text, 0)
        else:
            key = bind(order.key)
            if aggregate and key.text.casefold() not in grouped:
                reason = f"Ordered field must be grouped or aggregated: {key.text}"
                raise located("MALFORMED_QUERY", text, order.key.pos, reason)
        orders.append((key, order.descending, order.nulls_first))
    where = compile_where(org.schema, root, query.where, text)
    paths = [*group_by, *where.paths]
    paths += [i for i in items if isinstance(i, BoundPath)]
    paths += [i.path for i in items if isinstance(i, _Agg) and i.path is not None]
    paths += [k for k, _, _ in orders if isinstance(k, BoundPath)]
    return _Plan(
        query,
        root,
        items,
        group_by,
        orders,
        count_only,
        aggregate,
        objects_of(root, paths),
        where.predicate,
    )


def _bind_aggregate(
    item: Aggregate, bind: Callable[[Path], BoundPath], text: str, unnamed: int
) -> _Agg:
    path = bind(item.path) if item.path is not None else None
    if path is not None and item.function in ("SUM", "AVG") and path.field.type not in NUMBER_TYPES:
        reason = f"field {path.text} does not support aggregate operator {item.function}"
        raise located("MALFORMED_QUERY", text, item.pos, reason)
    return _Agg(item.function, path, item.alias or f"expr{unnamed}")


# --- running -------------------------------------------------------------------------------


def _matching(plan: _Plan, snapshot: Snapshot, include_deleted: bool) -> list[Row]:
    return [
        row
        for row in snapshot[plan.root.name].values()
        if (include_deleted or not row["IsDeleted"]) and plan.predicate(row, snapshot)
    ]


def _ordered(
    items: list[Any], keys: Sequence[tuple[Callable[[Any], Any], bool, bool]]
) -> list[Any]:
    """Stable multi-key sort; nulls first or last as asked, whichever the direction."""
    result = list(items)
    for key, descending, nulls_first in reversed(keys):
        null_rank = 0 if nulls_first != descending else 1

        def rank(item: Any, key: Callable[[Any], Any] = key, null_rank: int = null_rank) -> Any:
            value = key(item)
            return (null_rank, 0) if value is None else (1 - null_rank, value)

        result.sort(key=rank, reverse=descending)
    return result


def _sorted_rows(plan: _Plan, rows: list[Row], snapshot: Snapshot) -> list[Row]:
    keys = []
    for key, descending, nulls_first in plan.orders:
        assert isinstance(key, BoundPath)  # aggregates in ORDER BY were refused by _plan
        normal = sort_key(key.field.type)

        def value(row: Row, path: BoundPath = key, normal: Callable[[Any], Any] = normal) -> Any:
            found = path.value(row, snapshot)
            return None if found is None else normal(found)

        keys.append((value, descending, nulls_first))
    return _ordered(rows, keys)


def _groups(plan: _Plan, rows: list[Row], snapshot: Snapshot) -> list[_Group]:
    if not plan.group_by:
        return [({}, rows)]
    groups: dict[tuple[Any, ...], _Group] = {}
    for row in rows:
        values = {g.text: g.value(row, snapshot) for g in plan.group_by}
        key = tuple(
            None if v is None else sort_key(g.field.type)(v)
            for g, v in zip(plan.group_by, values.values(), strict=True)
        )
        groups.setdefault(key, (values, []))[1].append(row)
    return list(groups.values())


def _sorted_groups(plan: _Plan, groups: list[_Group], snapshot: Snapshot) -> list[_Group]:
    keys: list[tuple[Callable[[_Group], Any], bool, bool]] = []
    for key, descending, nulls_first in plan.orders:
        if isinstance(key, BoundPath):
            normal = sort_key(key.field.type)

            def grouped(
                group: _Group, text: str = key.text, normal: Callable[[Any], Any] = normal
            ) -> Any:
                found = group[0][text]
                return None if found is None else normal(found)

            keys.append((grouped, descending, nulls_first))
        else:

            def aggregated(group: _Group, agg: _Agg = key) -> Any:
                return _aggregate(agg, group[1], snapshot)

            keys.append((aggregated, descending, nulls_first))
    return _ordered(groups, keys)


def _aggregate(agg: _Agg, rows: list[Row], snapshot: Snapshot) -> Value:
    """COUNT() / COUNT(f) / SUM / AVG / MIN / MAX over a group; null over no values."""
    if agg.path is None:
        return len(rows)
    path = agg.path
    present = [v for v in (path.value(row, snapshot) for row in rows) if v is not None]
    if agg.function == "COUNT":
        return len(present)
    if not present:
        return None
    if agg.function in ("SUM", "AVG"):
        numbers = [Decimal(v) for v in present if isinstance(v, int | Decimal)]
        total = sum(numbers, Decimal(0))
        if agg.function == "AVG":
            return total / len(numbers)
        return int(total) if path.field.type is FieldType.INT else total
    key = sort_key(path.field.type)
    return min(present, key=key) if agg.function == "MIN" else max(present, key=key)


def _aggregate_record(plan: _Plan, group: _Group, snapshot: Snapshot) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for item in plan.items:
        if isinstance(item, BoundPath):
            record[item.key] = wire(group[0][item.text])
        else:
            record[item.key] = wire(_aggregate(item, group[1], snapshot))
    return record


# --- REST records ----------------------------------------------------------------------------


def _attributes(sobject: str, record_id: Value, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


def _record(plan: _Plan, row: Row, snapshot: Snapshot, version: str) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": _attributes(plan.root.name, row["Id"], version)}
    for path in plan.fields:
        _place(record, row, path.lookups, path.field, snapshot, version)
    return record


def _place(
    target: dict[str, Any],
    row: Row,
    lookups: tuple[FieldDef, ...],
    field: FieldDef,
    snapshot: Snapshot,
    version: str,
) -> None:
    """Put one selected value into a record, nesting an object per lookup walked."""
    if not lookups:
        target[field.name] = wire(row[field.name])
        return
    lookup, rest = lookups[0], lookups[1:]
    name = lookup.relationship_name or lookup.name
    found = parent(row, lookup, snapshot)
    if found is None:
        target[name] = None
        return
    nested = target.get(name)
    if nested is None:
        nested = {"attributes": _attributes(lookup.reference_to or "", found["Id"], version)}
        target[name] = nested
    _place(nested, found, rest, field, snapshot, version)
