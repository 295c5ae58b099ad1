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
#: Digits `str` of a Decimal may show and still be its canonical form: `normalize` rounds to
#: the context's precision (28 by default), `str` never does.
_PLAIN_DIGITS = 28


def _canon(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, Decimal):
        if type(value) is Decimal:
            text = str(value)
            # No exponent and no trailing zero after a point: already normalized (1.1, 10, -0).
            if "E" not in text and ("." not in text or text[-1] != "0"):
                if len(text) <= _PLAIN_DIGITS:
                    return text
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


def reference_hash(record: Any) -> str:
    """`content_hash` the plain way, value by value: the definition the compiled form of
    `_compiled` must match (and what it falls back to on a value it cannot take)."""
    cls: type = type(record)
    parts = [cls.__name__]
    append = parts.append
    for value in _values_of(cls)(record):
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


@cache
def _compiled(cls: type) -> Callable[[Any], str]:
    """`reference_hash` for records of `cls`, as one function written for its fields: each field
    read once, its text picked inline (a str as it is, a remembered Decimal or day by one dict
    lookup), the parts joined in one tuple. No loop, no call per value on the common path."""
    names = _hashed_fields(cls)
    body = ["def hash_of(record):"]
    for i, name in enumerate(names):
        assert name.isidentifier()  # dataclass field names, written into the source below
        body += [
            f"    v = record.{name}",
            "    k = v.__class__",
            f"    if k is str: p{i} = v",
            f"    elif v is None: p{i} = NUL",
            f"    elif k is Decimal or k is date: p{i} = memo_get(v) or memo_canon(v)",
            f"    else: p{i} = canon(v)",
        ]
    parts = ", ".join(["NAME", *(f"p{i}" for i in range(len(names)))])
    body.append(f"    return blake2b(SEP.join(({parts},)).encode(), digest_size=20).hexdigest()")
    scope: dict[str, Any] = {
        "NAME": cls.__name__,
        "NUL": "\x00",
        "SEP": "\x1f",
        "Decimal": Decimal,
        "date": date,
        "memo_get": _MEMO.get,  # zeros and NaNs are never kept: they miss, memo_canon sees them
        "memo_canon": _memo_canon,
        "canon": _canon,
        "blake2b": hashlib.blake2b,
    }
    exec(compile("\n".join(body), f"<content_hash of {cls.__name__}>", "exec"), scope)  # noqa: S102 - our own source
    fast: Callable[[Any], str] = scope["hash_of"]
    return fast


def content_hash(record: Any) -> str:
    """Hash of a record's content, ignoring the source's change time."""
    cls: type = type(record)  # plain `type`: mypy sees type[Any] as not Hashable for @cache
    try:
        return _compiled(cls)(record)
    except TypeError:  # a value the dict cannot hash (a signaling NaN): the plain way decides
        return reference_hash(record)
