"""The query language of the fake Fusion pod: `q` row-match expressions (comparisons joined
by `and`, alternatives in parentheses joined by `or`, string literals in single quotes with
`''` for a quote, numbers bare; `;`-joined conditions as framework version 1 wrote them),
`orderBy` (`A:asc,B:desc`, nulls last as Oracle sorts ascending) and the pod's errors.

Timestamps compare as instants whatever their offset (parsed once per distinct text). An
attribute the resource does not have is a 400, as Fusion answers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pmo_ledger.ledger.time.dates import utc_timestamp

Row = dict[str, Any]
#: A window's `q`: one `<stamp> >= '<literal>'` (the pod bisects its sorted rows for it).
WINDOW = re.compile(r"^([A-Za-z]+Date)>='([^']+)'$")
_CONDITION = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*$")


class FusionError(Exception):
    """An error answer: status, detail, Oracle's error code, the path it concerns."""

    def __init__(self, status: int, detail: str, code: str = "", path: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.code, self.path = status, detail, code, path


def _split(text: str, word: str) -> list[str]:
    """`text` split at ` <word> ` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    token = f" {word} "
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text[i : i + len(token)].lower() == token:
            parts.append(text[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _predicate(text: str) -> Callable[[Row], bool]:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        alternatives = [_predicate(p) for p in _split(text[1:-1], "or")]
        return lambda row: any(p(row) for p in alternatives)
    both = _split(text, "and")
    if len(both) > 1:
        parts = [_predicate(p) for p in both]
        return lambda row: all(p(row) for p in parts)
    m = _CONDITION.match(text)
    if m is None:
        raise FusionError(400, f"URL request parameter q with value {text} is not valid.",
                          "27024", "q")  # fmt: skip
    attr, op, literal = m.groups()
    if literal.startswith("'") and literal.endswith("'"):
        value: Any = literal[1:-1].replace("''", "'")
    else:
        try:
            value = Decimal(literal)
        except ArithmeticError:
            raise FusionError(400, f"The value {literal} is not valid for {attr}.",
                              "27024", "q") from None  # fmt: skip
    return lambda row: _compare(row, attr, op, value)


def _compare(row: Row, attr: str, op: str, value: Any) -> bool:
    if attr not in row:
        raise FusionError(400, f"The attribute {attr} in q is not valid.", "27024", "q")
    have = row[attr]
    if have is None:
        return False
    if attr.endswith(("Date", "DateTime")) and isinstance(value, str) and "T" in value:
        have, value = _ts(have), _ts(value)
    elif isinstance(value, Decimal) and isinstance(have, Decimal | int):
        have = Decimal(have)
    else:
        have, value = str(have), str(value)
    outcome: bool = {
        "=": have == value, "!=": have != value, ">": have > value,
        ">=": have >= value, "<": have < value, "<=": have <= value,
    }[op]  # fmt: skip
    return outcome


def filter_rows(rows: list[Row], q: str | None) -> list[Row]:
    if not q:
        return rows
    conditions = [c for c in q.split(";")] if ";" in q and " and " not in q else [q]
    predicates = [_predicate(c) for c in conditions]
    return [r for r in rows if all(p(r) for p in predicates)]


def order_rows(rows: list[Row], order: str) -> list[Row]:
    out = list(rows)
    for part in reversed(order.split(",")):
        attr, _, direction = part.partition(":")
        if out and attr not in out[0]:
            raise FusionError(400, f"The attribute {attr} in orderBy is not valid.", "27024",
                              "orderBy")  # fmt: skip
        out.sort(key=_by(attr), reverse=direction == "desc")
    return out


def _by(attr: str) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: sort_key(row.get(attr))


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")  # nulls last, as Oracle sorts ascending
    if isinstance(value, str) and "T" in value and value[:4].isdigit():
        return (0, _ts(value))
    if isinstance(value, int | Decimal):
        return (0, value)
    return (0, str(value))


@lru_cache(maxsize=1 << 20)
def _ts(text: str) -> datetime:
    """A timestamp attribute or literal as UTC (parsed once per distinct text)."""
    return utc_timestamp(text)
