"""What a search, count or report request asks for, read from its parameters the way
Workfront reads them (api-basics.md, "GET Behavior"):

- filters `field=value` with `field_Mod` (`eq` by default; `ne gte lte gt lt in notin between
  notbetween contains cicontains notcontains cieq cine isnull notnull`), `field_Range` for
  `between`; `in` takes the parameter repeated (`status=APP&status=SUB&status_Mod=in`);
  nested paths (`project:name=X`); `OR:n:` groups (a row matches all of one group's filters,
  the plain filters being one group); `filters={"field": value}` for names that collide with
  auth parameters;
- `fields=a,b,project:name,owner:*,*,parameterValues,DE:Name`;
- `$$FIRST` (rows to skip) and `$$LIMIT` (default 100, at most 2000; more is an
  IllegalArgumentException);
- `field_Sort=asc|desc|ciasc|cidesc` (`field_1_Sort`, `field_2_Sort` rank them; else the order
  given);
- report: `field_AggFunc=sum|avg|min|max|count`, `path_1_GroupBy=true` ..., `$$ROLLUP=true`.

`query.Evaluator` answers a parsed request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pmo_ledger.connectors.workfront.sandbox.schema import ObjectDef

#: Rows a search returns without `$$LIMIT`, and the most it may ask for.
DEFAULT_LIMIT = 100
MAX_LIMIT = 2000

#: Parameters that are not filters.
_RESERVED = frozenset(
    {
        "fields",
        "$$FIRST",
        "$$LIMIT",
        "$$ROLLUP",
        "method",
        "sessionID",
        "apiKey",
        "username",
        "password",
        "map",
        "filters",
        "id",
        "action",
    }
)
_SUFFIX = re.compile(r"^(?P<path>.+?)_(?P<what>Mod|Range|Sort|AggFunc|GroupBy)$")
_NUMBERED = re.compile(r"^(?P<path>.+?)_(?P<n>\d+)$")
_OR = re.compile(r"^OR:(?P<n>\d+):(?P<rest>.+)$")
_MODS = frozenset(
    {
        "eq",
        "ne",
        "gte",
        "lte",
        "gt",
        "lt",
        "in",
        "notin",
        "between",
        "notbetween",
        "contains",
        "cicontains",
        "notcontains",
        "cieq",
        "cine",
        "isnull",
        "notnull",
    }
)


class QueryError(Exception):
    """A request Workfront refuses: `cls` is the Java exception class it names."""

    def __init__(
        self,
        message: str,
        cls: str = "com.attask.common.InvalidParameterException",
        status: int = 422,
    ) -> None:
        super().__init__(message)
        self.message, self.cls, self.status = message, cls, status


@dataclass
class Filter:
    """One filter: a path, its values, its modifier and (for between) its range's end."""

    path: str
    values: list[str] = field(default_factory=list)
    mod: str = "eq"
    range: str | None = None


@dataclass
class Query:
    """What a request asks for: filter groups (the plain one first), sorts, fields, window."""

    obj: ObjectDef
    groups: list[list[Filter]]
    sorts: list[tuple[str, str]]
    fields: list[str]
    first: int
    limit: int
    group_by: list[str]
    aggregates: list[tuple[str, str]]
    rollup: bool


def parse(obj: ObjectDef, params: Mapping[str, list[str]]) -> Query:
    """Read a search/count/report request's parameters (raises QueryError)."""
    plain: dict[str, Filter] = {}
    ors: dict[int, dict[str, Filter]] = {}
    sorts: list[tuple[int, int, str, str]] = []
    group_by: list[tuple[int, int, str]] = []
    aggregates: list[tuple[str, str]] = []
    for position, (name, values) in enumerate(params.items()):
        if name in _RESERVED:
            continue
        target = plain
        or_match = _OR.match(name)
        if or_match:
            target = ors.setdefault(int(or_match.group("n")), {})
            name = or_match.group("rest")
        suffix = _SUFFIX.match(name)
        if suffix is None:
            target.setdefault(name, Filter(name)).values = list(values)
            continue
        path, what, value = suffix.group("path"), suffix.group("what"), values[0]
        if what == "Mod":
            if value not in _MODS:
                raise QueryError(f"Invalid modifier {value} for {path}")
            target.setdefault(path, Filter(path)).mod = value
        elif what == "Range":
            target.setdefault(path, Filter(path)).range = value
        elif what == "Sort":
            if value.lower() not in ("asc", "desc", "ciasc", "cidesc"):
                raise QueryError(f"Invalid sort direction {value} for {path}")
            order, path = _numbered(path)
            sorts.append((order, position, path, value.lower()))
        elif what == "GroupBy":
            order, path = _numbered(path)
            if value.lower() == "true":
                group_by.append((order, position, path))
        else:
            aggregates.append((path, value.lower()))
    for raw in params.get("filters", []):
        try:
            extra = json.loads(raw)
        except ValueError as exc:
            raise QueryError(f"filters is not JSON: {raw}") from exc
        for name, value in extra.items():
            plain.setdefault(name, Filter(name)).values = [str(value)]
    groups = [list(plain.values())] + [list(g.values()) for _, g in sorted(ors.items())]
    for group in groups:
        for flt in group:
            if flt.mod not in ("isnull", "notnull") and not flt.values:
                raise QueryError(f"No value for filter {flt.path}")
    fields = [f for raw in params.get("fields", []) for f in raw.split(",") if f.strip()]
    return Query(
        obj=obj,
        groups=groups,
        sorts=[(path, direction) for _, _, path, direction in sorted(sorts)],
        fields=[f.strip() for f in fields],
        first=_int_param(params, "$$FIRST", 0),
        limit=_limit(params),
        group_by=[path for _, _, path in sorted(group_by)],
        aggregates=aggregates,
        rollup=(params.get("$$ROLLUP") or ["false"])[0].lower() == "true",
    )


def _numbered(path: str) -> tuple[int, str]:
    """`name_2` -> (2, `name`): the rank of a numbered sort or group-by (0 without one)."""
    numbered = _NUMBERED.match(path)
    return (int(numbered["n"]), numbered["path"]) if numbered else (0, path)


def _int_param(params: Mapping[str, list[str]], name: str, default: int) -> int:
    raw = params.get(name)
    if not raw:
        return default
    try:
        number = int(raw[0])
    except ValueError:
        raise QueryError(
            f"{name} must be an integer, got {raw[0]}", "java.lang.IllegalArgumentException"
        ) from None
    if number < 0:
        raise QueryError(f"{name} must not be negative", "java.lang.IllegalArgumentException")
    return number


def _limit(params: Mapping[str, list[str]]) -> int:
    limit = _int_param(params, "$$LIMIT", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise QueryError(
            f"Requested limit {limit} exceeds the maximum of {MAX_LIMIT} results",
            "java.lang.IllegalArgumentException",
        )
    return limit
