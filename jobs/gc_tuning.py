"""The garbage collector's settings for a process that writes batches (issue 25).

A batch builds tens of thousands of short-lived dicts, records and Decimals. With CPython's
defaults (a young collection every 700 new container objects, an old one every 100 young
ones) the collector runs hundreds of times a batch and, in its full passes, walks every
long-lived object of the process: the imported modules, SQLAlchemy's metadata and compiled
statements, the app's settings. Measured on a 100,000-line sample load (PostgreSQL, one
process per run, alternated, `bench/gc_freeze.py`): freezing them once saves about 9% of the
first load's client CPU (2.12 -> 1.92 s) and 16% of an unchanged re-run's (0.82 -> 0.69 s).

`tune_for_batches` (once a process, at its first sync): one full collection, then
`gc.freeze()`: what is alive then lives as long as the process, and the collector never walks
it again. The thresholds stay CPython's: a young threshold of 10,000 or 50,000 as well saved
no more CPU than the freeze alone (alternated, docs/benchmarks.md) and let more cyclic garbage
wait between collections (a higher peak of memory in small runs).
"""

from __future__ import annotations

import gc
import threading

import structlog

log = structlog.get_logger(__name__)

_done = False
_lock = threading.Lock()


def tune_for_batches() -> bool:
    """Collect, then freeze what is alive, once a process. True when it did now; False when
    it had, or when the process turned the collector off (left alone)."""
    global _done
    with _lock:
        if _done:
            return False
        _done = True
        if not gc.isenabled():
            log.debug("gc_left_alone", enabled=False)
            return False
        gc.collect()
        gc.freeze()
        log.debug("gc_frozen", frozen=gc.get_freeze_count())
        return True


__all__ = ["tune_for_batches"]
