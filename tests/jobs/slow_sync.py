"""A sync of a slow scripted source in its own process (for the two-process lease test).

    python -m tests.jobs.slow_sync URL TMPDIR PAGES SECONDS [GATE]
Prints the run's status, or the AlreadyRunning message, and exits 0 / 3. With GATE (a file
path), every page after the first waits until that file exists (at most 30 s) instead of
SECONDS: the test holds the run as long as it needs and no longer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pmo_ledger.connectors.base import Cursor, Page
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import AlreadyRunning, run_sync
from pmo_ledger.ledger.db import make_engine
from tests.jobs.scripted import ScriptedConnector, line, make_app, projects


def main() -> int:
    url, tmp, pages, pause = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    gate = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    configure_logging("json", "WARNING")  # logs to stderr; stdout carries the answer

    def slow(request: object) -> object:
        for i in range(pages):
            if gate is None or i == 0:
                time.sleep(pause)
            else:
                deadline = time.monotonic() + 30
                while not gate.exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
            yield Page(records=[line(f"p{i}", "1.00")], checkpoint=Cursor("offset", i + 1))

    connector = ScriptedConnector({"projects": lambda r: [projects("A")], "actuals": slow})
    app = make_app(make_engine(url), tmp, batch_rows=1)
    try:
        result = run_sync(app, "s1", connector=connector)
    except AlreadyRunning as exc:
        print(exc)
        return 3
    print(f"run {result.run_id} {result.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
