"""The Workfront connector never loads its fake, and `pmo-ledger sandbox --kind workfront`
serves it: a fresh interpreter reads the hours from a sandbox this process serves, without
`pmo_ledger.connectors.workfront.sandbox` in its modules; the CLI prints a
`[connectors.workfront]` table that a connector reads, until SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.workfront import WorkfrontConnector, WorkfrontSettings
from tests.connectors.workfront.account import Account

READ = """
import json, sys
from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.workfront import WorkfrontConnector, WorkfrontSettings

connector = WorkfrontConnector(
    WorkfrontSettings.model_validate(json.loads(sys.argv[1])), ConnectorContext("wf")
)
records = sum(len(p.records) for p in connector.extract("hours", ReadRequest()))
connector.close()
fake = sorted(m for m in sys.modules if m.startswith("pmo_ledger.connectors.workfront.sandbox"))
print(json.dumps({"records": records, "fake": fake}))
"""
LAUNCH = "from pmo_ledger.jobs.cli import main; main()"


def test_reading_the_hours_does_not_load_the_sandbox(account: Account) -> None:
    server = account.server
    settings = {"base_url": server.url, "api_key": server.user.api_key,
                "ca_bundle": str(server.ca_file)}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", READ, json.dumps(settings)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = json.loads(out.splitlines()[-1])  # structlog's events come before it
    assert result == {"records": len(account.approved_hours()), "fake": []}


def test_the_cli_serves_the_sandbox_and_prints_a_table_that_reads_it(tmp_path: Path) -> None:
    """`pmo-ledger sandbox --kind workfront --port 0`: a table to paste whose settings pass
    the connector's check against the running fake; SIGTERM stops it."""
    env = {k: v for k, v in os.environ.items() if k != "PMO_LEDGER_CONFIG"}
    served = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "sandbox", "--kind", "workfront", "--port", "0",
         "--cert-dir", str(tmp_path / "tls")],
        cwd=tmp_path, env=env | {"COLUMNS": "200"}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert served.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Serving until"):
            line = served.stdout.readline()
            assert line, f"the sandbox stopped: {lines}"
            lines.append(line.rstrip("\n"))
        start = lines.index("[connectors.workfront]")
        table = tomllib.loads("\n".join(lines[start:]).split("\n\n")[0])
        assert table["connectors"]["workfront"]["kind"] == "workfront"
        settings = {k: v for k, v in table["connectors"]["workfront"].items() if k != "kind"}
        connector = WorkfrontConnector(
            WorkfrontSettings.model_validate(settings), ConnectorContext("workfront")
        )
        try:
            connector.check()
            assert connector.context.extra["check"] == {"projects": 8}
        finally:
            connector.close()
    finally:
        served.send_signal(signal.SIGTERM)
        served.communicate(timeout=30)
    assert served.returncode == 0
