"""A stream's configured `where` is one SOQL condition (issue 18, item 12): a text that would
close the connector's parentheses, add a clause or leave a string open is refused when the
connector's settings load, naming the key; a condition with parentheses inside a string
literal or a top-level OR is accepted and reaches the org wrapped, so the stream's own filter
(and the cursor) still hold. End to end against the sandbox on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.salesforce import SalesforceConnector
from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import Resource
from tests.connectors.salesforce.psa_org import PsaOrg, sandbox_app

KEY = "connectors.crm.streams.resources.where: not one SOQL condition: "


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("X__c = 1) OR (Y__c = 2", "closes at column 9 a parenthesis it did not open"),
        (") OR (Name != null", "closes at column 1 a parenthesis it did not open"),
        ("(A__c = 1", "leaves 1 parenthesis open"),
        ("((A__c = 1)", "leaves 1 parenthesis open"),
        ("Name = 'open", "has a string opened at column 8 that is never closed"),
        ("Name = 'it\\'", "has a string opened at column 8 that is never closed"),
        (
            "Name != null ORDER BY Name",
            "has 'ORDER' at column 14, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        (
            "Name != null limit 1",
            "has 'limit' at column 14, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        (
            "Name != null OFFSET 5",
            "has 'OFFSET' at column 14, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        (
            "Name != null GROUP BY Name",
            "has 'GROUP' at column 14, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        (
            "Name != null WITH SECURITY_ENFORCED",
            "has 'WITH' at column 14, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        (
            "Id != null FROM Contact",
            "has 'FROM' at column 12, outside parentheses: it would add a clause to the "
            "query, not a condition",
        ),
        ("Name != null -- all", "has a comment at column 14 (SOQL has none)"),
        ("Name != null /* x */", "has a comment at column 14 (SOQL has none)"),
        (
            "Name != null; Id != null",
            "has `;` at column 13 (one condition, no statement separator)",
        ),
        ("   ", 'is blank (leave `where` out, or "", to read every row)'),
    ],
)
def test_a_where_that_is_not_one_condition_is_refused_with_its_key(
    engine: Engine, tmp_path: Path, server: SandboxServer, where: str, why: str
) -> None:
    app = sandbox_app(engine, tmp_path, server, streams={"resources": {"where": where}})
    with pytest.raises(ConnectorConfigError) as caught:
        app.connector("crm")
    assert str(caught.value) == f"{KEY}{where!r} {why}"


@pytest.mark.parametrize(
    "where",
    [
        "Status__c = 'a) OR (b'",
        "Name = 'Zoë (x' AND Name != 'Ærø'",
        "Name = 'it\\'s (open' AND Email != null",
        "Name LIKE '%ORDER BY%' OR Name = '-- /* ;'",
        "Id IN (SELECT pse__Resource__c FROM pse__Timecard_Header__c WHERE Id != null)",
        "Order__c = null AND Account.Limit__c > 2025-01-01T00:00:00Z",
        "",
    ],
)
def test_one_condition_is_accepted(
    engine: Engine, tmp_path: Path, server: SandboxServer, where: str
) -> None:
    """Parentheses, keywords and comment marks inside string literals, a semi-join in
    parentheses, fields whose names contain a keyword; "" is no filter, as TOML's unset."""
    app = sandbox_app(engine, tmp_path, server, streams={"resources": {"where": where}})
    connector = app.connector("crm")
    assert isinstance(connector, SalesforceConnector)
    assert connector.config.stream("resources").where == where


def test_the_where_reaches_the_org_wrapped_and_the_stream_filter_holds(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """A top-level OR and a string literal holding `) OR (`: the org receives the condition in
    its own parentheses, ANDed with the stream's `pse__Is_Resource__c = true`, so a contact
    that is no resource stays out though the operator's condition selects it."""
    psa.org.insert("Contact", FirstName="Not", LastName="Resource", pse__Is_Resource__c=False)
    where = "LastName = 'a) OR (b' OR Email = null"
    app = sandbox_app(engine, tmp_path, server, streams={"resources": {"where": where}})
    result = run_sync(app, "crm", streams=["resources"])
    assert result.status == "succeeded", result.message
    texts = [r.params["q"][0] for r in server.requests if r.params.get("q")]
    sent = [q for q in texts if "FROM Contact" in q]
    assert sent
    for query in sent:
        assert f"(pse__Is_Resource__c = true) AND ({where})" in query
    with app.reading() as s:
        names = sorted(s.scalars(select(Resource.name).where(Resource.source == "crm")))
    assert names == ["Res Source0", "Res Source1"]
