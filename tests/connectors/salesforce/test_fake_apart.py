"""The production connector never loads its fake: a fresh interpreter imports the Salesforce
connector and reads a stream from a sandbox served by this test process over a real socket,
and `pmo_ledger.connectors.salesforce.sandbox` is not in its sys.modules. The fake is reached
only through `SalesforceConnector.sandbox()`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pmo_ledger.connectors.registry import installed_kinds
from pmo_ledger.connectors.salesforce.sandbox import SandboxServer

READ = """
import json, sys
from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.salesforce import SalesforceConnector, SalesforceSettings

settings = SalesforceSettings.model_validate(json.loads(sys.argv[1]))
connector = SalesforceConnector(settings, ConnectorContext("crm"))
connector.check()
pages = list(connector.extract("projects", ReadRequest()))
connector.close()
loaded = sorted(m for m in sys.modules if m.startswith("pmo_ledger.connectors.salesforce.sandbox"))
print(json.dumps({"records": sum(len(p.records) for p in pages), "loaded": loaded}))
"""


def test_reading_a_stream_does_not_load_the_sandbox(server: SandboxServer) -> None:
    settings = {
        "login_url": server.login_url,
        "username": server.user.username,
        "password": server.user.password,
        "security_token": server.user.security_token,
        "ca_bundle": str(server.ca_file),
    }
    out = subprocess.run(
        [sys.executable, "-c", READ, json.dumps(settings)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.splitlines()[-1])  # structlog writes its events before it
    assert result["records"] > 0
    assert result["loaded"] == []


def test_the_sandbox_is_reached_through_the_connector_class() -> None:
    """`SalesforceConnector.sandbox()` is what loads the fake, lazily."""
    code = (
        "import sys\n"
        "from pmo_ledger.connectors.salesforce import SalesforceConnector\n"
        "before = 'pmo_ledger.connectors.salesforce.sandbox' in sys.modules\n"
        "with SalesforceConnector.sandbox() as box:\n"
        "    url = box.settings['login_url']\n"
        "after = 'pmo_ledger.connectors.salesforce.sandbox' in sys.modules\n"
        "print(before, after, url.startswith('https://127.0.0.1:'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1].split() == ["False", "True", "True"]


LAUNCH = "from pmo_ledger.jobs.cli import main; main()"


def test_the_cli_serves_only_kinds_that_ship_a_sandbox(tmp_path: Path) -> None:
    """`pmo-ledger sandbox --kind sample`: the sample needs no server, so it is refused with
    the installed kinds named. (A process of its own: the CLI configures logging.)"""
    env = {k: v for k, v in os.environ.items() if k != "PMO_LEDGER_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, "sandbox", "--kind", "sample"],
        cwd=tmp_path,
        env=env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    said = " ".join(done.stderr.replace("│", " ").split())  # rich boxes and wraps it
    assert "'sample' is not an installed kind that ships a sandbox" in said
    assert f"(installed: {', '.join(sorted(installed_kinds()))})" in said
