"""The Salesforce connector's other paths against the sandbox: the OAuth logins, TLS trust,
retries, Bulk API 2.0, re-syncs of one project or period, a single-currency org, the timecard
object switched to headers, and the CLI's `check` and `verify`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, select
from typer.testing import CliRunner
from urllib3.util.retry import Retry

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.errors import ConnectorConfigError, ConnectorTransientError
from pmo_ledger.connectors.salesforce import SalesforceConnector, SalesforceSettings
from pmo_ledger.connectors.salesforce.sandbox import (
    SANDBOX_APP,
    ConnectedApp,
    SandboxServer,
    TlsFiles,
    load_or_create,
)
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine
from tests.connectors.salesforce.psa_org import PsaOrg, ledger_totals, sandbox_app


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def server(psa: PsaOrg, tls: TlsFiles, rsa_key: rsa.RSAPrivateKey) -> Iterator[SandboxServer]:
    public = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    app = ConnectedApp(SANDBOX_APP.consumer_key, SANDBOX_APP.consumer_secret, public)
    with SandboxServer(psa.org, tls=tls, app=app, page_size=5) as running:
        yield running


def connector(server: SandboxServer, **settings: object) -> SalesforceConnector:
    base: dict[str, object] = {"login_url": server.login_url, "ca_bundle": str(server.ca_file)}
    base.update(settings)
    return SalesforceConnector(SalesforceSettings.model_validate(base), ConnectorContext("crm"))


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_every_login_flow_reaches_the_org(
    server: SandboxServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    """SOAP, OAuth password, client credentials and JWT bearer each log in and read the
    allowance; the sandbox saw each grant."""
    user, app = server.user, server.app
    flows = {
        "password": {"username": user.username, "password": user.password,
                     "security_token": user.security_token},
        "oauth_password": {"username": user.username, "password": user.password,
                           "security_token": user.security_token,
                           "consumer_key": app.consumer_key,
                           "consumer_secret": app.consumer_secret},
        "client_credentials": {"consumer_key": app.consumer_key,
                               "consumer_secret": app.consumer_secret},
        "jwt": {"username": user.username, "consumer_key": app.consumer_key,
                "private_key": _private_pem(rsa_key)},
    }  # fmt: skip
    for auth, creds in flows.items():
        conn = connector(server, **creds)
        assert conn.config.inferred_auth() == auth
        conn.check()
        assert conn.context.extra["check"].startswith("DailyApiRequests ")
        conn.close()
    grants = [r.path for r in server.requests if r.method == "POST"]
    assert grants.count("/services/oauth2/token") == 3
    assert sum(p.startswith("/services/Soap/u/") for p in grants) == 1


def test_a_refused_login_is_a_config_error_naming_the_code(server: SandboxServer) -> None:
    """The SOAP fault (HTTP 500) is sent once, never retried: each refused login counts
    toward the user's lockout (3, 5 or 10 invalid attempts, the org's password policy)."""
    conn = connector(server, username=server.user.username, password="wrong", security_token="")
    assert conn.settings.max_retries == 3  # the default retries of a 5xx
    with pytest.raises(
        ConnectorConfigError,
        match=r"^Salesforce refused the login: INVALID_LOGIN: Invalid username, password, secur",
    ):
        conn.check()
    assert [(r.method, r.path.split("/")[2], r.status) for r in server.requests] == [
        ("POST", "Soap", 500)
    ]


def test_a_500_of_a_rest_call_is_still_retried(server: SandboxServer) -> None:
    """Only the SOAP login's 500 is final: a REST call's 500 is tried again (with backoff)."""
    user = server.user
    conn = connector(server, username=user.username, password=user.password,
                     security_token=user.security_token, backoff_seconds=0)  # fmt: skip
    conn.client.instance  # noqa: B018 - logs in
    server.clear_log()
    server.fail_next(2, status=500)
    conn.check()
    assert [r.status for r in server.requests][:3] == [500, 500, 200]


def test_ca_bundle_wins_over_the_environment(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """REQUESTS_CA_BUNDLE naming another CA does not override `ca_bundle`; without
    `ca_bundle` the same environment makes TLS verification fail: a configuration error that
    says what to set (retrying would not help)."""
    other = load_or_create(tmp_path / "other").ca_file
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    user = server.user
    creds = {"username": user.username, "password": user.password,
             "security_token": user.security_token}  # fmt: skip
    connector(server, **creds).check()
    waits: list[object] = []
    monkeypatch.setattr(Retry, "sleep", lambda self, response=None: waits.append(response))
    with pytest.raises(ConnectorConfigError, match=r"TLS verification failed.*set ca_bundle"):
        connector(server, ca_bundle=None, **creds).check()
    assert waits == []  # a refused certificate is not tried again (max_retries is 3)


def test_5xx_answers_are_retried_with_backoff_then_reported(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Two 503s are absorbed by the retries; more than max_retries end the stream with
    'Salesforce answered 503' and the run is not successful."""
    app = sandbox_app(engine, tmp_path, server, max_retries=2, backoff_seconds=0)
    server.fail_next(2, status=503)
    assert run_sync(app, "crm").status == "succeeded"
    assert ledger_totals(app) == psa.source_totals()
    server.fail_next(10, status=503)
    result = run_sync(app, "crm")
    assert result.status in ("partial", "failed")
    assert "Salesforce answered 503" in " ".join(s.message or "" for s in result.streams)


def test_full_reads_above_the_threshold_use_bulk_api_2(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """8 splits > bulk_threshold 5: one Bulk 2.0 queryAll job read in CSV pages of 3; the
    totals are the same as over REST."""
    app = sandbox_app(
        engine, tmp_path, server, bulk_threshold=5, bulk_page_size=3, bulk_poll_seconds=0
    )
    assert run_sync(app, "crm", streams=["projects", "fx_rates", "timecards"]).status == (
        "succeeded"
    )
    jobs = [r for r in server.requests if r.path.endswith("/jobs/query") and r.method == "POST"]
    results = [r for r in server.requests if r.path.endswith("/results")]
    assert len(jobs) == 1 and len(results) == 3  # 8 rows in pages of 3
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
    with app.reading() as s:
        assert (
            len(s.scalars(select(ActualLine.id).where(ActualLine.stream == "timecards")).all()) == 8
        )


def test_a_project_resync_reads_it_in_full_and_reverses_what_vanished(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """`sync --project P1` reads P1's lines in full; a P1 line purged from the recycle bin
    (invisible to queryAll) is reversed, other projects are untouched."""
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["max_scope_reversal_min"] = 5
    assert run_sync(app, "crm").status == "succeeded"
    psa.org.delete("pse__Timecard__c", psa.timecards[0])  # P1
    psa.org.advance(timedelta(seconds=5))
    psa.org.purge_delete_log(psa.org.now())
    server.clear_log()
    result = run_sync(app, "crm", project="P1")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    scoped = [r.params["q"][0] for r in server.requests if "/query" in r.path and "q" in r.params]
    assert any(f"pse__Project__c = '{psa.projects['P1']}'" in q for q in scoped)
    assert sorted(s.stream for s in result.streams) == [
        "allocations", "budgets", "expenses", "timecards",
    ]  # fmt: skip


def test_a_period_resync_reads_the_period_dates(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """`sync --period 2025-03` filters the line streams on their dates in March."""
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    server.clear_log()
    result = run_sync(app, "crm", period="2025-03")
    assert result.status == "succeeded", result.message
    queries = [r.params["q"][0] for r in server.requests if "/query" in r.path and "q" in r.params]
    assert any(
        "pse__Start_Date__c >= 2025-03-01 AND pse__Start_Date__c <= 2025-03-31" in q
        for q in queries
    )
    assert ledger_totals(app) == psa.source_totals()


def test_a_single_currency_org_loads_every_amount_in_its_currency(
    engine: Engine, tmp_path: Path, tls: TlsFiles
) -> None:
    """No CurrencyIsoCode anywhere: the FX streams are not declared and amounts are GBP."""
    from pmo_ledger.connectors.salesforce.sandbox import FakeOrg

    org = FakeOrg(multi_currency=False, corporate_currency="GBP")
    project = org.insert("pse__Proj__c", Name="Solo", pse__Project_ID__c="S1")
    org.insert(
        "pse__Expense__c",
        pse__Project__c=project,
        pse__Amount__c="42.10",
        pse__Expense_Date__c=date(2025, 5, 5),
        pse__Include_In_Financials__c=True,
    )
    with SandboxServer(org, tls=tls) as server:
        app = sandbox_app(engine, tmp_path, server, multi_currency=False, currency="GBP")
        app.config.ledger.__dict__["rate_sources"] = ["manual"]
        assert "fx_rates" not in app.connector("crm").streams
        assert run_sync(app, "crm").status == "succeeded"
        assert ledger_totals(app) == {("S1", "GBP"): (1, Decimal("42.10"))}


def test_switching_timecards_to_headers_retires_the_split_lines(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """object = pse__Timecard_Header__c: the next run reads the headers in full and reverses
    the split lines in the same run; the totals are the headers'."""
    header = psa.org.insert(
        "pse__Timecard_Header__c", Name="TCH-1", pse__Project__c=psa.projects["P2"],
        pse__Resource__c=psa.resources[0], pse__Start_Date__c=date(2025, 3, 3),
        pse__Total_Hours__c="40.0", pse__Total_Cost__c="3200.00",
        pse__Include_In_Financials__c=True, CurrencyIsoCode="USD",
    )  # fmt: skip
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["max_scope_reversal"] = Decimal(1)
    assert run_sync(app, "crm", streams=["projects", "timecards"]).status == "succeeded"
    headers = sandbox_app(
        engine, tmp_path, server,
        streams={"timecards": {"object": "pse__Timecard_Header__c"}},
    )  # fmt: skip
    headers.config.ledger.__dict__["max_scope_reversal"] = Decimal(1)
    result = run_sync(headers, "crm", streams=["timecards"])
    assert result.status == "succeeded", result.message
    assert ledger_totals(headers, ("timecards",)) == {("P2", "USD"): (1, Decimal("3200.00"))}
    with headers.reading() as s:
        live = s.scalars(
            select(ActualLine.external_id).where(
                ActualLine.stream == "timecards", ActualLine.deleted_at.is_(None)
            )
        ).all()
    assert live == [header]


def test_cli_check_and_verify(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`check crm` answers in one line with the allowance; `verify crm` exits 0 without
    drift and 4 with it, naming the project that drifts."""
    from pmo_ledger.jobs.cli import make_cli

    app = sandbox_app(engine, tmp_path, server)
    monkeypatch.setattr("pmo_ledger.jobs.cli.build_app", lambda *a, **k: app)
    cli, runner = make_cli(), CliRunner()
    checked = runner.invoke(cli, ["check", "crm"])
    assert checked.exit_code == 0, checked.output
    assert "crm (salesforce): ok (DailyApiRequests 99999 of 100000 left)" in checked.output
    assert runner.invoke(cli, ["sync", "crm"]).exit_code == 0
    clean = runner.invoke(cli, ["verify", "crm"])
    assert clean.exit_code == 0, clean.output
    assert "timecards: 3 groups checked (count, amount, hours), no drift" in clean.output
    psa.org.update_silently("pse__Timecard__c", psa.timecards[1], pse__Total_Cost__c="1.00")
    drift = runner.invoke(cli, ["verify", "crm", "--stream", "timecards"])
    assert drift.exit_code == 4, drift.output
    assert "timecards: 3 groups checked (count, amount, hours), drift in 1 group: amount" in (
        drift.output
    )
    row = next(line for line in drift.output.splitlines() if "timecards" in line and "P2" in line)
    # P2's splits were 601.25 + 604.25 + 607.25; one of them is now 1.00 at the source.
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        "timecards", "P2", "USD", "amount", "1212.50", "1812.75", "-600.25",
    ]  # fmt: skip


def test_a_source_that_does_not_answer_times_out_as_a_transient_error() -> None:
    """A host that accepts the connection and never answers: the read timeout ends the call
    (no hang), reported as transient so the checkpoint stays."""
    import socket
    import threading
    import time
    from datetime import timedelta as td

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    port = listener.getsockname()[1]
    settings = SalesforceSettings.model_validate(
        {"login_url": f"https://127.0.0.1:{port}", "username": "u", "password": "p",
         "security_token": "", "max_retries": 0}
    )  # fmt: skip
    conn = SalesforceConnector(
        settings, ConnectorContext("crm", connect_timeout=td(seconds=1), read_timeout=td(seconds=1))
    )
    started = time.monotonic()
    try:
        with pytest.raises(ConnectorTransientError, match="Timeout"):
            conn.check()
    finally:
        listener.close()
        for s in held:
            s.close()
    assert time.monotonic() - started < 5


def test_field_mapping_and_a_where_condition_shape_the_read(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Lines keyed by the PSA project number (through the lookup) map to ledger projects by a
    link rule; `where` keeps only the rows it selects."""
    rule = {
        "source": "crm",
        "object_type": "project",
        "pattern": r"^(?P<code>P\d)$",
        "project": "{code}",
    }
    app = sandbox_app(
        engine, tmp_path, server, {"link_rules": [rule]},
        streams={
            "expenses": {"fields": {"project": "pse__Project__r.pse__Project_ID__c"},
                         "where": "CurrencyIsoCode = 'USD'"},
        },
    )  # fmt: skip
    assert run_sync(app, "crm", streams=["projects", "expenses"]).status == "succeeded"
    # P2's two USD expenses (121.40 and 123.40); P1's are EUR and stay out.
    assert ledger_totals(app, ("expenses",)) == {("P2", "USD"): (2, Decimal("244.80"))}


def test_a_session_expiring_during_a_bulk_read_logs_in_again(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """INVALID_SESSION_ID between two Bulk 2.0 calls: one new login, the job is run again,
    the totals are exact."""
    app = sandbox_app(
        engine, tmp_path, server, bulk_threshold=5, bulk_page_size=3, bulk_poll_seconds=0
    )
    assert run_sync(app, "crm", streams=["projects"]).status == "succeeded"
    server.clear_log()
    server.expire_after(3)  # the count, the job's creation, one poll: then the session dies
    result = run_sync(app, "crm", streams=["timecards"])
    assert result.status == "succeeded", result.message
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
    logins = [r for r in server.requests if r.path.startswith("/services/Soap/u/")]
    assert len(logins) == 2
