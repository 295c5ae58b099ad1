"""Search, count and report over the fake's rows, for a request `params.parse` read:

- filters by path (`project:name`), fields projected as Workfront writes them (ID, objCode and
  name always; nested objects with their ID, name and objCode), pages cut by `$$FIRST` and
  `$$LIMIT`;
- sorts with nulls last ascending and first descending, as Oracle sorts. Without a sort the
  row order is not stable: each search shuffles the rows anew, so paging without `ID_Sort`
  repeats and skips rows, as the docs warn (duplicates-paginated-search.md). A sorted result
  is kept while nothing is written, so paging through it costs a page each;
- report: `{"<group value>": {"sum_hours": 15}, ..., "$$ROLLUP": {...}}`, nested one level per
  group-by (api-basics.md, "Requesting a Report"). A null group value is the key `"null"` (not
  documented).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.workfront.sandbox.params import Filter, Query, QueryError
from pmo_ledger.connectors.workfront.sandbox.schema import OBJECTS, FieldType, ObjectDef
from pmo_ledger.connectors.workfront.sandbox.store import FakeWorkfront, Row
from pmo_ledger.connectors.workfront.sandbox.values import (
    BadValue,
    Value,
    parse_filter,
    wire_value,
)


class Evaluator:
    """Runs queries against one account (`shuffle` orders unsorted results)."""

    def __init__(
        self,
        store: FakeWorkfront,
        version: str,
        shuffle: random.Random,
        cache: dict[str, tuple[object, list[Row]]] | None = None,
        *,
        plain_dates: bool = False,
    ) -> None:
        self._plain_dates = plain_dates
        self.store, self.version, self._shuffle = store, version, shuffle
        # The last sorted result per object, reused while nothing is written (paging).
        self._cache = cache if cache is not None else {}

    # --- paths ---------------------------------------------------------------------------
    def _unknown(self, obj: ObjectDef, name: str) -> QueryError:
        model = "V" + self.version.replace(".", "_")
        return QueryError(f"APIModel {model} does not support field {name} ({obj.name})")

    def kind(self, obj: ObjectDef, path: str) -> FieldType:
        """The type a path ends on (raises QueryError for a field the object lacks)."""
        head, rest = _split(path)
        if not rest:
            if not obj.has(head):
                raise self._unknown(obj, head)
            return obj.fields[head]
        if head not in obj.references:
            raise self._unknown(obj, head)
        return self.kind(OBJECTS[obj.references[head][1]], rest)

    def value(self, obj: ObjectDef, row: Row | None, path: str) -> Value:
        """The value a path reaches from `row` (None past a missing reference)."""
        if row is None:
            return None
        head, rest = _split(path)
        if not rest:
            return row.get(head)
        id_field, code = obj.references[head]
        target = self.store.find(code, _str(row.get(id_field)))
        return self.value(OBJECTS[code], target, rest)

    def getter(self, obj: ObjectDef, path: str) -> Callable[[Row], Value]:
        """`value` for one path, with a fast way for a field of the row itself."""
        head, rest = _split(path)
        if not rest:
            return lambda row: row.get(head)
        return lambda row: self.value(obj, row, path)

    # --- filtering -----------------------------------------------------------------------
    def matching(self, query: Query) -> list[Row]:
        """The rows that pass the filters: all of one group's (the plain filters are a group;
        each `OR:n:` is another), every row when there are none."""
        obj = query.obj
        groups = [[self._test(obj, flt) for flt in group] for group in query.groups if group]
        rows = self.store.rows(obj.code)
        if not groups:
            return rows
        return [row for row in rows if any(all(t(row) for t in group) for group in groups)]

    def select(self, query: Query) -> list[Row]:
        """The rows that match, sorted (or shuffled when no sort is given)."""
        if not query.sorts:
            rows = self.matching(query)
            self._shuffle.shuffle(rows)
            return rows
        key = (repr(query.groups), tuple(query.sorts), self.store.version, self.store.now())
        cached = self._cache.get(query.obj.code)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = self.matching(query)
        for path, direction in reversed(query.sorts):
            rows = self._sorted(query.obj, rows, path, self.kind(query.obj, path), direction)
        self._cache[query.obj.code] = (key, rows)
        return rows

    def _sorted(
        self, obj: ObjectDef, rows: list[Row], path: str, kind: FieldType, direction: str
    ) -> list[Row]:
        fold = direction.startswith("ci") and kind is FieldType.STRING
        get = self.getter(obj, path)
        present: list[tuple[Any, Row]] = []
        missing: list[Row] = []
        for row in rows:
            value = get(row)
            if value is None:
                missing.append(row)
            else:
                present.append((value.lower() if fold and isinstance(value, str) else value, row))
        descending = direction.endswith("desc")
        present.sort(key=lambda pair: pair[0], reverse=descending)
        ordered = [row for _, row in present]
        return missing + ordered if descending else ordered + missing

    def _test(self, obj: ObjectDef, flt: Filter) -> Callable[[Row], bool]:
        kind = self.kind(obj, flt.path)
        zone, now = self.store.zone, self.store.now()
        try:
            wanted = [parse_filter(v, kind, zone, now) for v in flt.values]
            upper = parse_filter(flt.range, kind, zone, now) if flt.range is not None else None
        except BadValue as exc:
            raise QueryError(f"Invalid value for {flt.path}: {exc}") from exc
        match = _matcher(flt.mod, wanted, upper, flt.path)
        get = self.getter(obj, flt.path)

        def test(row: Row) -> bool:
            return match(get(row))

        return test

    # --- answers -------------------------------------------------------------------------
    def search(self, query: Query) -> list[dict[str, object]]:
        rows = self.select(query)[query.first : query.first + query.limit]
        return [self.project(query.obj, row, query.fields) for row in rows]

    def count(self, query: Query) -> int:
        return len(self.matching(query))

    def project(self, obj: ObjectDef, row: Row, fields: Sequence[str]) -> dict[str, object]:
        """A row as Workfront writes it: ID, objCode (and name), then the fields asked for
        (the object's default list when none are)."""
        out: dict[str, object] = {"ID": row["ID"]}
        if obj.has("name"):
            out["name"] = row.get("name")
        out["objCode"] = obj.code
        for spec in fields or obj.defaults:
            self._put(obj, row, spec, out)
        return out

    def _put(self, obj: ObjectDef, row: Row, spec: str, out: dict[str, object]) -> None:
        if spec == "*":
            for name, kind in obj.fields.items():
                out[name] = self._wire(row.get(name), kind)
            return
        if spec == "parameterValues":
            out[spec] = {
                name: self._wire(row.get(name), kind)
                for name, kind in obj.fields.items()
                if name.startswith("DE:")
            }
            return
        head, rest = _split(spec)
        if not rest and obj.has(head):
            out[head] = self._wire(row.get(head), obj.fields[head])
            return
        if head not in obj.references:
            raise self._unknown(obj, head)
        id_field, code = obj.references[head]
        target = self.store.find(code, _str(row.get(id_field)))
        if target is None:
            out[head] = None
            return
        nested = out.get(head)
        base = self.project(OBJECTS[code], target, ["ID"] if not rest else [rest])
        out[head] = {**nested, **base} if isinstance(nested, dict) else base

    def _wire(self, value: Value, kind: FieldType) -> object:
        return wire_value(value, kind, self.store.zone, plain_dates=self._plain_dates)

    def report(self, query: Query) -> dict[str, object]:
        """The grouped aggregates of the matching rows."""
        obj = query.obj
        for path in query.group_by:
            self.kind(obj, path)
        for path, func in query.aggregates:
            self.kind(obj, path)
            if func not in ("sum", "avg", "min", "max", "count"):
                raise QueryError(f"Invalid aggregate function {func} for {path}")
        rows = self.select(query)
        return self._groups(obj, rows, query.group_by, query)

    def _groups(
        self, obj: ObjectDef, rows: list[Row], group_by: Sequence[str], query: Query
    ) -> dict[str, object]:
        if not group_by:
            return self._aggregate(obj, rows, query.aggregates)
        path, rest = group_by[0], group_by[1:]
        kind = self.kind(obj, path)
        buckets: dict[str, list[Row]] = {}
        for row in rows:
            buckets.setdefault(self._key(self.value(obj, row, path), kind), []).append(row)
        out: dict[str, object] = {
            key: self._groups(obj, members, rest, query) for key, members in buckets.items()
        }
        if query.rollup:
            out["$$ROLLUP"] = self._aggregate(obj, rows, query.aggregates)
        return out

    def _key(self, value: Value, kind: FieldType) -> str:
        if value is None:
            return "null"
        wire = self._wire(value, kind)
        return format(wire, "f") if isinstance(wire, Decimal) else str(wire)

    def _aggregate(
        self, obj: ObjectDef, rows: Iterable[Row], aggregates: Sequence[tuple[str, str]]
    ) -> dict[str, object]:
        rows = list(rows)
        out: dict[str, object] = {}
        for path, func in aggregates:
            values = [self.value(obj, row, path) for row in rows]
            numbers = [
                v for v in values if isinstance(v, (int, Decimal)) and not isinstance(v, bool)
            ]
            name = f"{func}_{path}"
            if func == "count":
                out[name] = sum(1 for v in values if v is not None)
            elif func == "sum":
                out[name] = sum((Decimal(v) for v in numbers), Decimal(0))
            elif not numbers:
                out[name] = None
            elif func == "avg":
                out[name] = sum(Decimal(v) for v in numbers) / len(numbers)
            else:
                out[name] = min(numbers) if func == "min" else max(numbers)
        return out


def _split(path: str) -> tuple[str, str]:
    """(first step, the rest) of a colon path; a custom field `DE:Name` is one step."""
    if path.startswith("DE:"):
        return path, ""
    head, _, rest = path.partition(":")
    return head, rest


def _str(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _comparable(value: Value, wanted: Value) -> tuple[Any, Any] | None:
    """Both sides as one comparable type, or None when they cannot be compared."""
    if value is None or wanted is None:
        return None
    if isinstance(value, datetime) and isinstance(wanted, datetime):
        return value, wanted
    if isinstance(value, date) and isinstance(wanted, date) and not isinstance(value, datetime):
        return value, wanted
    if isinstance(value, (int, Decimal)) and isinstance(wanted, (int, Decimal)):
        return Decimal(value), Decimal(wanted)
    if isinstance(value, str) and isinstance(wanted, str):
        return value, wanted
    if isinstance(value, bool) and isinstance(wanted, bool):
        return value, wanted
    return None


def _matcher(mod: str, wanted: list[Value], upper: Value, path: str) -> Callable[[Value], bool]:
    first = wanted[0] if wanted else None

    def cmp(value: Value, op: Callable[[Any, Any], bool], other: Value = first) -> bool:
        pair = _comparable(value, other)
        return pair is not None and op(*pair)

    def text(value: Value) -> str:
        return "" if value is None else str(value)

    tests: dict[str, Callable[[Value], bool]] = {
        "eq": lambda v: cmp(v, lambda a, b: a == b),
        "ne": lambda v: not cmp(v, lambda a, b: a == b),
        "gte": lambda v: cmp(v, lambda a, b: a >= b),
        "lte": lambda v: cmp(v, lambda a, b: a <= b),
        "gt": lambda v: cmp(v, lambda a, b: a > b),
        "lt": lambda v: cmp(v, lambda a, b: a < b),
        "in": lambda v: any(cmp(v, lambda a, b: a == b, w) for w in wanted),
        "notin": lambda v: not any(cmp(v, lambda a, b: a == b, w) for w in wanted),
        "between": lambda v: cmp(v, lambda a, b: a >= b) and cmp(v, lambda a, b: a <= b, upper),
        "notbetween": lambda v: (
            not (cmp(v, lambda a, b: a >= b) and cmp(v, lambda a, b: a <= b, upper))
        ),
        "contains": lambda v: text(first) in text(v) and v is not None,
        "cicontains": lambda v: v is not None and text(first).lower() in text(v).lower(),
        "notcontains": lambda v: text(first) not in text(v),
        "cieq": lambda v: v is not None and text(v).lower() == text(first).lower(),
        "cine": lambda v: text(v).lower() != text(first).lower(),
        "isnull": lambda v: v is None,
        "notnull": lambda v: v is not None,
    }
    if mod in ("between", "notbetween") and upper is None:
        raise QueryError(f"between needs {path}_Range")
    return tests[mod]
