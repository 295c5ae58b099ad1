"""Content hashes of records (rule 2): over canonical values (1.10 == 1.1), with a hash version."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

#: Bump when the hashed form changes; lines with an older version are re-hashed, not re-written.
HASH_VERSION = 1
#: Not content: the source's change time, and how a budget version was read (`derived`).
_SKIP = frozenset({"source_modified_at", "derived"})


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


@cache
def _hashed_fields(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in _SKIP)


def content_hash(record: Any) -> str:
    """Hash of a record's content, ignoring the source's change time."""
    cls: type = type(record)  # plain `type`: mypy sees type[Any] as not Hashable for @cache
    parts = [cls.__name__]
    append = parts.append
    for name in _hashed_fields(cls):  # the writer's hot path: the common types inline
        value = getattr(record, name)
        if value is None:
            append("\x00")
        elif type(value) is str:
            append(value)
        else:
            append(_canon(value))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=20).hexdigest()
