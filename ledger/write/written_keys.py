"""The keys a run has written to a stream that held no line when the run began (issue 25).

Each batch looks its keys up among the stream's stored lines (`stored_versions`: the keys
copied to a stage, one index probe each). In a first load every probe misses: the stream was
empty when the run began, and the run, holding its connector's lease, is the only writer of
its streams. `WrittenKeys` remembers the keys the run's batches sent to the stream in a Bloom
filter (rbloom) of a fixed size, so a batch looks up only the keys the filter may hold. A
false positive costs one lookup, never a wrong answer; a key is added before its batch writes,
so a batch rolled back (a bisected error, a failed run) leaves only false positives.

Memory stays flat in N: the filter is `CAPACITY` keys at `ERROR_RATE` (4.6 MB). Past that its
false positives grow until, around ten times as many keys, nearly every key is looked up, as
without it.

What it relies on: nothing but the run writes the stream's lines while the run lasts. A write
by another process in that time (`quarantine retry` of a key the run also reads, at the same
moment) is not lost or doubled: the run's INSERT of that key meets the key's unique index and
the record is held as `db_rejected`, as any refused row is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rbloom import Bloom

#: The keys the filter holds at `ERROR_RATE`; more raise its false positives, not its size.
CAPACITY = 4_000_000
ERROR_RATE = 0.01


class WrittenKeys:
    """The keys one run sent to one (source, stream), when that stream began the run empty."""

    def __init__(self) -> None:
        self._began_empty: bool | None = None  # asked at the stream's first batch
        self._bloom: Bloom | None = None

    def began_empty(self, has_lines: Callable[[], bool]) -> bool:
        """Whether the stream held no line (deleted ones included) when the run began:
        `has_lines` is asked once, at the run's first batch of the stream."""
        if self._began_empty is None:
            self._began_empty = not has_lines()
        return self._began_empty

    def may_hold(self, keys: Iterable[str]) -> list[str]:
        """The keys that this run may have written (every key it has, and a few it has not)."""
        bloom = self._bloom
        if bloom is None:
            return []
        return [k for k in keys if k in bloom]

    def add(self, keys: Iterable[str]) -> None:
        """Keys a batch is about to write (before its statements: see the module)."""
        if self._bloom is None:
            self._bloom = Bloom(CAPACITY, ERROR_RATE)
        self._bloom.update(keys)
