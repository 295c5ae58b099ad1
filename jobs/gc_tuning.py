"""The garbage collector's settings for a process that writes batches (issue 25).

A batch builds tens of thousands of short-lived dicts, records and Decimals. With CPython's
defaults (a young collection every 700 new container objects, an old one every 100 young
ones) the collector runs hundreds of times a batch and, in its full passes, walks every
long-lived object of the process: the imported modules, SQLAlchemy's metadata and compiled
statements, the app's settings. Measured on a 100,000-line sample load (PostgreSQL, one
process, alternated): 15-25% of the first load's client CPU and about 30% of an unchanged
re-run's went to it (docs/benchmarks.md, issue 25).

`tune_for_batches` (once a process, at its first sync): one full collection, then
`gc.freeze()` (what is alive then lives as long as the process: never walked again) and a
young-generation threshold of 50,000. Cyclic garbage is still collected, later and in larger
passes; a process whose code set its own thresholds keeps them.
"""

from __future__ import annotations

import gc
import threading

import structlog

log = structlog.get_logger(__name__)

#: CPython's default thresholds; any other setting is the process owner's and is kept.
_DEFAULT = (700, 10, 10)
#: Young collections after this many new container objects; old ones as CPython's ratios.
THRESHOLDS = (50_000, 20, 10)

_done = False
_lock = threading.Lock()


def tune_for_batches() -> bool:
    """Freeze what is alive and raise the young threshold, once a process. True when it did
    now; False when it had (or the thresholds are not CPython's defaults: left alone)."""
    global _done
    with _lock:
        if _done:
            return False
        _done = True
        if gc.get_threshold() != _DEFAULT or not gc.isenabled():
            log.debug("gc_left_alone", thresholds=gc.get_threshold(), enabled=gc.isenabled())
            return False
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
        log.debug("gc_tuned", frozen=gc.get_freeze_count(), thresholds=THRESHOLDS)
        return True


__all__ = ["THRESHOLDS", "tune_for_batches"]
