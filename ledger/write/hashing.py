"""Content hashes of records (rule 2): over canonical values (1.10 == 1.1), with a hash version."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any

#: Bump when the hashed form changes; lines with an older version are re-hashed, not re-written.
HASH_VERSION = 1
#: Not content: the source's change time, and how a budget version was read (`derived`).
_SKIP = frozenset({"source_modified_at", "derived"})
#: Canonical text of the days and non-zero Decimals seen (a batch repeats few days and many
#: amounts): a Decimal's canonical form depends only on its value (1.10 and 1.1 both give
#: "1.1") except for the sign of a zero, so zeros are never kept. Emptied when it grows large.
_MEMO: dict[Any, str] = {}
_MEMO_MAX = 16_384


def _canon(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ",".join(content_hash(v) for v in value) + "]"
    return str(value)


def _memo_canon(value: Decimal | date) -> str:
    """`_canon` of a Decimal or a plain date, remembered (same text, computed once)."""
    if type(value) is Decimal and (not value.is_finite() or not value):
        return _canon(value)  # NaN is no key; 0 and -0 are equal keys but differ in text
    text = _MEMO.get(value)
    if text is None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        text = _MEMO[value] = _canon(value)
    return text


@cache
def _hashed_fields(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in _SKIP)


@cache
def _values_of(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """The hashed fields' values of a record of `cls`, in their order, as one tuple."""
    names = _hashed_fields(cls)
    if len(names) == 1:
        only = attrgetter(names[0])
        return lambda record: (only(record),)
    getter: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
    return getter


def content_hash(record: Any) -> str:
    """Hash of a record's content, ignoring the source's change time."""
    cls: type = type(record)  # plain `type`: mypy sees type[Any] as not Hashable for @cache
    parts = [cls.__name__]
    append = parts.append
    for value in _values_of(cls)(record):  # the writer's hot path: the common types inline
        kind = type(value)
        if kind is str:
            append(value)
        elif value is None:
            append("\x00")
        elif kind is Decimal or kind is date:  # a datetime is no plain date: not remembered
            append(_memo_canon(value))
        else:
            append(_canon(value))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=20).hexdigest()
