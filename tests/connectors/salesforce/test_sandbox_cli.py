"""`pmo-ledger sandbox` in a real process: it prints the configuration to paste, serves the
demo org over HTTPS, and stops on SIGTERM."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.login import SalesforceLogin

from pmo_ledger.connectors.salesforce.sandbox import SANDBOX_USER

LAUNCH = "from pmo_ledger.jobs.cli import main; main()"
ROOT = Path(__file__).resolve().parents[3]


class Output:
    """A process's stdout read line by line in a thread (select() cannot see lines already
    in the pipe's buffer, and a blocking read has no timeout)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def until(self, last: str, timeout: float = 20) -> list[str]:
        """Lines up to one starting with `last` (fails after `timeout` seconds or at EOF)."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            lines.append(line)
            if line.startswith(last):
                return lines
        pytest.fail(f"no line starting {last!r}; got {lines}")

    def rest(self) -> list[str]:
        """The remaining lines, once the process has closed its stdout."""
        self._thread.join(timeout=10)
        lines: list[str] = []
        while (line := self._lines.get_nowait()) is not None:
            lines.append(line)
        return lines


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    env = {k: v for k, v in os.environ.items() if k != "PMO_LEDGER_CONFIG"}
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "sandbox", "--port", "0", "--cert-dir", "certs", "--dirty"],
        cwd=tmp_path,  # no pmo-ledger.toml here: the command needs none
        env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_cli_prints_the_snippet_and_serves(sandbox: tuple[subprocess.Popen[str], Path]) -> None:
    """The snippet is valid TOML pointing at the running sandbox; a client logs in with it."""
    proc, cwd = sandbox
    output = Output(proc)
    lines = output.until("Serving until Ctrl-C.")
    assert lines[0].startswith(
        "Salesforce sandbox: 792 demo records, listening on https://127.0.0.1:"
    )
    start = lines.index("[connectors.psa]")
    config = tomllib.loads("\n".join(lines[start:-2]))["connectors"]["psa"]
    assert config["kind"] == "salesforce"
    assert (config["username"], config["password"], config["security_token"]) == (
        SANDBOX_USER.username,
        SANDBOX_USER.password,
        SANDBOX_USER.security_token,
    )
    assert config["ca_bundle"] == str((cwd / "certs" / "ca.pem").resolve())
    assert config["login_url"] == lines[0].rsplit(" ", 1)[1]

    session = requests.Session()
    session.verify = config["ca_bundle"]
    session.trust_env = False
    session_id, instance = SalesforceLogin(
        username=config["username"],
        password=config["password"],
        security_token=config["security_token"],
        scratch_url=config["login_url"],
        session=session,
    )
    sf = Salesforce(session_id=session_id, instance=instance, session=session)
    assert sf.query("SELECT COUNT() FROM pse__Proj__c")["totalSize"] == 8
    assert (
        sf.query("SELECT COUNT() FROM pse__Expense__c WHERE CurrencyIsoCode = 'ZZZ'")["totalSize"]
        == 1
    )

    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert output.rest() == ["Stopped."]
