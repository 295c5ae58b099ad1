"""CLI start-up: `pmo-ledger --help` and `pmo-ledger connectors`, each run N times in a fresh
process (the installed console script, beside this interpreter), wall time per run.

    .venv/bin/python bench/startup.py [--runs 7]

`connectors` runs with built-in defaults (no configuration file: it loads no connector kind
for a configured connector and touches no database). Prints each command's runs and median;
the last line is `cli_startup_seconds=X`, the slower of the two medians (issue 18 asks for
under 0.5 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (("--help",), ("connectors",))


def timed(script: Path, args: tuple[str, ...], cwd: str) -> float:
    """Seconds from spawning `pmo-ledger ARGS` to its exit (it must exit 0)."""
    env = {k: v for k, v in os.environ.items() if k != "PMO_LEDGER_CONFIG"}
    start = time.perf_counter()
    # The console script beside this interpreter, with fixed arguments.
    subprocess.run([str(script), *args], cwd=cwd, env=env, check=True, capture_output=True)  # noqa: S603
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    options = parser.parse_args()
    script = Path(sys.executable).parent / "pmo-ledger"
    medians = []
    with tempfile.TemporaryDirectory() as cwd:  # no ./pmo-ledger.toml is picked up
        timed(script, COMMANDS[0], cwd)  # warm the file cache once
        for args in COMMANDS:
            runs = [timed(script, args, cwd) for _ in range(options.runs)]
            median = statistics.median(runs)
            medians.append(median)
            shown = ", ".join(f"{r:.3f}" for r in runs)
            print(f"pmo-ledger {' '.join(args)}: median {median:.3f} s (runs: {shown})")
    print(f"cli_startup_seconds={max(medians):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
