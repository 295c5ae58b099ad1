"""The fake Workfront's own speed: seed the demo account with N hours, then page through
every hour over HTTPS the way the connector does (`count`, then `$$FIRST`/`$$LIMIT` pages
sorted by `ID_Sort=asc`, all fields), with httpx on one keep-alive connection.

    .venv/bin/python bench/workfront_sandbox.py [--hours 100000] [--limit 2000]

The connector's sync figures (records/s, API calls per 1,000 records) include this cost; this
says how much of it is the fake's. Prints the seed time, the paging time and rate, and the
calls; the last line is `workfront_sandbox_rows_per_second=X`.
"""

from __future__ import annotations

import argparse
import ssl
import time

import httpx

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.workfront.sandbox.run import running


def page_through(base_url: str, api_key: str, ca_file: str, limit: int) -> tuple[int, int]:
    """(hours read, calls made) reading every hour in pages of `limit`."""
    trust = ssl.create_default_context(cafile=ca_file)
    with httpx.Client(
        base_url=f"{base_url}/attask/api/v19.0/", verify=trust, headers={"apiKey": api_key}
    ) as client:
        total = client.get("HOUR/count").json()["data"]["count"]
        read, calls, first = 0, 1, 0
        while True:
            params = {"$$FIRST": first, "$$LIMIT": limit, "ID_Sort": "asc", "fields": "*"}
            rows = client.get("HOUR/search", params=params).json()["data"]
            calls += 1
            read += len(rows)
            if len(rows) < limit:
                break
            first += limit
    if read != total:
        raise SystemExit(f"read {read} hours, count said {total}")
    return read, calls


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    with running(SandboxOptions(), hours=args.hours, psa=None) as sandbox:
        seeded = time.perf_counter()
        settings = sandbox.settings
        read, calls = page_through(
            settings["base_url"], settings["api_key"], settings["ca_bundle"], args.limit
        )
        done = time.perf_counter()
    rate = read / (done - seeded)
    print(f"seed and start: {seeded - start:.1f} s ({args.hours} hours asked)")
    print(
        f"paging: {read} hours in {done - seeded:.1f} s, {calls} calls "
        f"({calls * 1000 / read:.2f} per 1,000 hours)"
    )
    print(f"workfront_sandbox_rows_per_second={rate:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
