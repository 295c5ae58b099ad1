"""Binding a parsed query to the org's schema: field paths resolved through lookups, literals
checked against field types, the WHERE clause compiled to a predicate.

The type rules are Salesforce's: a date literal compares only with a date field, a datetime
literal only with a datetime field, a quoted string only with text and id fields, and so on;
anything else is INVALID_FIELD "value of filter criterion for field 'X' must be of type ...".
Text compares case-insensitively (SOQL does), ids exactly (15 or 18 characters). A null field
is unequal to every non-null literal, so `!=` and NOT IN match nulls, as in SOQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pmo_ledger.connectors.salesforce.sandbox.ids import same_id
from pmo_ledger.connectors.salesforce.sandbox.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldDef,
    FieldType,
    ObjectDef,
)
from pmo_ledger.connectors.salesforce.sandbox.soql import (
    BoolOp,
    Condition,
    InList,
    Literal,
    Not,
    Path,
)
from pmo_ledger.connectors.salesforce.sandbox.soql_tokens import located, unescape_like
from pmo_ledger.connectors.salesforce.sandbox.values import Value

Row = Mapping[str, Value]
#: object name -> id -> row: what a query reads lookups from.
Snapshot = Mapping[str, Mapping[str, Row]]
Predicate = Callable[[Row, Snapshot], bool]

_NO_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom "
    "field, be sure to append the '__c' after the custom field name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_LITERAL_KIND = (
    {
        FieldType.DATE: "DATE",
        FieldType.DATETIME: "DATETIME",
        FieldType.BOOLEAN: "BOOLEAN",
    }
    | dict.fromkeys(NUMBER_TYPES, "NUMBER")
    | dict.fromkeys(TEXT_TYPES | ID_TYPES, "STRING")
)
#: How Salesforce names a type in filter errors, where it differs from `describe`.
_TYPE_NAMES = {FieldType.DATETIME: "dateTime"} | dict.fromkeys(NUMBER_TYPES, "double")
_ID_TEXT = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


@dataclass(frozen=True, slots=True)
class BoundPath:
    """A field reached from the queried object through zero or more lookups."""

    text: str  # canonical spelling: pse__Region__r.Name
    lookups: tuple[FieldDef, ...]  # the reference fields walked, in order
    field: FieldDef

    @property
    def key(self) -> str:
        """The field's own name: the key of a grouped field in an AggregateResult."""
        return self.field.name

    def value(self, row: Row, snapshot: Snapshot) -> Value:
        """The value at the end of the path, or None where a lookup is empty."""
        current = row
        for lookup in self.lookups:
            found = parent(current, lookup, snapshot)
            if found is None:
                return None
            current = found
        return current[self.field.name]


def parent(row: Row, lookup: FieldDef, snapshot: Snapshot) -> Row | None:
    """The record a lookup field of `row` points at (None when empty)."""
    target_id = row.get(lookup.name)
    if target_id is None:
        return None
    return snapshot[lookup.reference_to or ""].get(str(target_id))


def bind_path(
    schema: Mapping[str, ObjectDef], root: ObjectDef, path: Path, query: str
) -> BoundPath:
    """Resolve a path from `root`. Raises SoqlError INVALID_FIELD worded like Salesforce."""
    obj = root
    lookups: list[FieldDef] = []
    names: list[str] = []
    for relationship in path.parts[:-1]:
        lookup = obj.lookup(relationship)
        if lookup is None:
            reason = _NO_RELATIONSHIP.format(name=relationship)
            raise located("INVALID_FIELD", query, path.pos, reason)
        lookups.append(lookup)
        names.append(lookup.relationship_name or "")
        obj = schema[lookup.reference_to or ""]
    field = obj.field(path.parts[-1])
    if field is None:
        shown = path.text if len(path.parts) == 1 else path.parts[-1]
        reason = _NO_COLUMN.format(field=shown, entity=obj.name)
        raise located("INVALID_FIELD", query, path.pos, reason)
    return BoundPath(".".join([*names, field.name]), tuple(lookups), field)


def objects_of(root: ObjectDef, paths: list[BoundPath]) -> set[str]:
    """The objects a query reads: its own and every lookup target."""
    return {root.name} | {lk.reference_to or "" for p in paths for lk in p.lookups}


# --- WHERE ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """A compiled WHERE clause and the paths it reads."""

    predicate: Predicate
    paths: list[BoundPath]


def compile_where(
    schema: Mapping[str, ObjectDef],
    root: ObjectDef,
    condition: Condition | None,
    query: str,
) -> Where:
    """Type-check a WHERE clause and compile it to `predicate(row, snapshot)`.
    Raises SoqlError."""
    paths: list[BoundPath] = []

    def build(node: Condition) -> Predicate:
        if isinstance(node, BoolOp):
            parts = [build(item) for item in node.items]
            if node.op == "AND":
                return lambda row, snap: all(p(row, snap) for p in parts)
            return lambda row, snap: any(p(row, snap) for p in parts)
        if isinstance(node, Not):
            inner = build(node.item)
            return lambda row, snap: not inner(row, snap)
        bound = bind_path(schema, root, node.path, query)
        paths.append(bound)
        if isinstance(node, InList):
            values = [_checked(bound, lit, "=", query) for lit in node.literals]
            tests = [_comparison(bound.field.type, "=", v) for v in values]
            negated = node.negated

            def in_list(row: Row, snapshot: Snapshot) -> bool:
                value = bound.value(row, snapshot)
                return any(t(value) for t in tests) != negated

            return in_list
        test = _comparison(bound.field.type, node.op, _checked(bound, node.literal, node.op, query))
        return lambda row, snap: test(bound.value(row, snap))

    predicate = build(condition) if condition is not None else _always
    return Where(predicate, paths)


def _checked(bound: BoundPath, literal: Literal, op: str, query: str) -> Any:
    kind = bound.field.type
    if literal.kind == "NULL":
        if op not in ("=", "!="):
            raise located("MALFORMED_QUERY", query, literal.pos, "unexpected token: 'null'")
        return None
    expected = _LITERAL_KIND[kind]
    if literal.kind != expected:
        quoted = "be enclosed in quotes" if expected == "STRING" else "not be enclosed in quotes"
        type_name = _TYPE_NAMES.get(kind, kind.value)
        reason = (
            f"value of filter criterion for field '{bound.text}' must be of type "
            f"{type_name} and should {quoted}"
        )
        raise located("INVALID_FIELD", query, literal.pos, reason)
    if kind is FieldType.BOOLEAN and op not in ("=", "!="):
        reason = f"invalid operator on boolean field: {op}"
        raise located("INVALID_QUERY_FILTER_OPERATOR", query, literal.pos, reason)
    if op == "LIKE" and kind not in TEXT_TYPES | ID_TYPES:
        reason = f"invalid operator on field {bound.text}: LIKE"
        raise located("INVALID_QUERY_FILTER_OPERATOR", query, literal.pos, reason)
    if kind in ID_TYPES and op != "LIKE" and not _ID_TEXT.fullmatch(str(literal.value)):
        reason = f"invalid ID field: {literal.value}"
        raise located("INVALID_QUERY_FILTER_OPERATOR", query, literal.pos, reason)
    if isinstance(literal.value, str) and op != "LIKE":
        return unescape_like(literal.value)
    return literal.value


def _comparison(kind: FieldType, op: str, literal: Any) -> Callable[[Value], bool]:
    """value -> bool for `field op literal` on a field of type `kind`."""
    if op == "LIKE":
        pattern = like_regex(str(literal))
        return lambda v: v is not None and pattern.fullmatch(str(v)) is not None
    if literal is None:
        return (lambda v: v is None) if op == "=" else (lambda v: v is not None)
    if kind in ID_TYPES and op in ("=", "!="):
        equal = op == "="
        return lambda v: (v is not None and same_id(str(v), literal)) == equal
    key = sort_key(kind)
    target = key(literal)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[op]
    if op == "!=":
        return lambda v: v is None or check(key(v), target)
    return lambda v: v is not None and check(key(v), target)


def sort_key(kind: FieldType) -> Callable[[Any], Any]:
    """What a value compares and sorts by: text without case, everything else as it is."""
    if kind in TEXT_TYPES:
        return lambda v: str(v).casefold()
    return _same


def _same(value: Any) -> Any:
    return value


def _always(row: Row, snapshot: Snapshot) -> bool:
    return True


def like_regex(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern (`%` any run, `_` one character, `\\%` `\\_` `\\\\` literal) as a
    case-insensitive regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
