"""The collector's settings for batch writing (jobs/gc_tuning.py): a fresh interpreter each,
since they are the process's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_ledger.jobs import sync
from pmo_ledger.jobs.sync import run_sync
from tests.jobs.scripted import ScriptedConnector, line, make_app, pages_of, projects


def _in_fresh_python(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_tuning_freezes_once_and_still_collects_cycles() -> None:
    got = _in_fresh_python(
        """
import gc, json, weakref
from pmo_ledger.jobs.gc_tuning import tune_for_batches
before = gc.get_threshold()
first, second = tune_for_batches(), tune_for_batches()
class Node: pass
refs = []
for _ in range(1000):
    a, b = Node(), Node(); a.other, b.other = b, a  # cycles: garbage once dropped
    refs.append(weakref.ref(a))
del a, b
gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "first": first,
                  "second": second, "frozen": gc.get_freeze_count(),
                  "alive": sum(r() is not None for r in refs)}))
"""
    )
    assert got["before"] == got["after"] == [700, 10, 10]  # CPython's thresholds kept
    assert (got["first"], got["second"]) == (True, False)
    assert int(got["frozen"]) > 10_000  # the modules, the ORM's metadata: walked never again
    assert got["alive"] == 0  # cyclic garbage made after it is still collected


def test_a_process_that_turned_the_collector_off_is_left_alone() -> None:
    got = _in_fresh_python(
        """
import gc, json
gc.disable()
from pmo_ledger.jobs.gc_tuning import tune_for_batches
print(json.dumps({"did": tune_for_batches(), "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count()}))
"""
    )
    assert got == {"did": False, "enabled": False, "frozen": 0}


def test_every_sync_asks_for_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(sync, "tune_for_batches", lambda: calls.append("tuned") or True)
    records = [line("a1", "10.00")]
    connector = ScriptedConnector(
        {"projects": lambda r: [projects("A")], "actuals": lambda r: pages_of(records, 1)}
    )
    result = run_sync(make_app(engine, tmp_path), "s1", connector=connector)
    assert (result.status, calls) == ("succeeded", ["tuned"])
