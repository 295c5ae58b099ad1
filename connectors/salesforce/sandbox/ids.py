"""Salesforce record ids: a 3-character key prefix per object, then a 12-character body, then
the 3-character case-safe checksum that turns the case-sensitive 15-character id into the
18-character one the REST API returns.

The checksum is real (each 5-character chunk of the 15-character id gives one character: bit
i is set when character i is an upper-case letter), so a connector that validates or
shortens ids sees what it would see against a real org.
"""

from __future__ import annotations

import string
import threading

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
#: Base-62 digits in ASCII order, so sequential ids of one object sort in creation order.
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def checksum(id15: str) -> str:
    """The 3-character suffix of a 15-character id."""
    if len(id15) != 15:
        raise ValueError(f"a 15-character id is needed, not {id15!r}")
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """An id as 18 characters (a 15-character id gets its checksum; 18 stays as it is)."""
    if len(record_id) == 18:
        return record_id
    return record_id + checksum(record_id)


def same_id(stored: str, given: str) -> bool:
    """SOQL id equality: an 18-character id compares case-insensitively (its suffix encodes the
    case), a 15-character one compares case-sensitively with the first 15 characters."""
    if len(given) == 15:
        return stored[:15] == given
    return stored.casefold() == given.casefold()


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    if len(digits) > width:
        raise OverflowError(f"id counter {number} does not fit {width} characters")
    return digits.rjust(width, "0")


class IdFactory:
    """Sequential ids per key prefix: `<prefix><pod 2><0><counter 9><checksum 3>`."""

    def __init__(self, pod: str = "5g") -> None:
        if len(pod) != 2:
            raise ValueError("the pod is two characters")
        self._pod = pod
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, key_prefix: str) -> str:
        """The next 18-character id of an object with this key prefix."""
        if len(key_prefix) != 3:
            raise ValueError(f"a key prefix is three characters, not {key_prefix!r}")
        with self._lock:
            count = self._counters.get(key_prefix, 0) + 1
            self._counters[key_prefix] = count
        return to18(f"{key_prefix}{self._pod}0{_base62(count, 9)}")
