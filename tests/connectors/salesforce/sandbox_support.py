"""Helpers for the sandbox tests: an HTTP session that trusts the sandbox's CA, logins with the
real simple-salesforce client, the demo org seeded once per process, small orgs built fresh.

simple-salesforce builds `https://{domain}.salesforce.com` for its own logins, so these log in
with `SalesforceLogin(scratch_url=...)` / `token_login(...)` and build a `Salesforce` from the
session id and instance, which is what a connector pointed at a private host does too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

import requests
from simple_salesforce import Salesforce
from simple_salesforce.login import SalesforceLogin

from pmo_ledger.connectors.salesforce.sandbox import DemoSeed, FakeOrg, SandboxServer, seed_demo


def http(server: SandboxServer) -> requests.Session:
    """A session that verifies TLS with the sandbox's CA and ignores proxy / CA variables of
    the environment (they would override `verify`)."""
    session = requests.Session()
    session.verify = str(server.ca_file)
    session.trust_env = False
    return session


def soap_login(server: SandboxServer, session: requests.Session) -> tuple[str, str]:
    """(session id, instance) from a SOAP login with the sandbox user."""
    user = server.user
    result: tuple[str, str] = SalesforceLogin(
        username=user.username,
        password=user.password,
        security_token=user.security_token,
        scratch_url=server.login_url,
        session=session,
    )
    return result


def login(server: SandboxServer) -> Salesforce:
    """A client logged in over SOAP, parsing numbers as Decimal."""
    session = http(server)
    session_id, instance = soap_login(server, session)
    return Salesforce(
        session_id=session_id, instance=instance, session=session, parse_float=Decimal
    )


@cache
def _demo() -> tuple[FakeOrg, DemoSeed]:
    org = FakeOrg()
    return org, seed_demo(org)


def demo_org() -> tuple[FakeOrg, DemoSeed]:
    """The demo org, seeded once per process. Read it, never write to it."""
    return _demo()


def small_org(*, multi_currency: bool = True) -> tuple[FakeOrg, dict[str, str]]:
    """A fresh org with two regions and three projects (ids by project code)."""
    org = FakeOrg(multi_currency=multi_currency)
    emea = org.insert("pse__Region__c", Name="EMEA")
    org.insert("pse__Region__c", Name="Americas")
    ids = {
        "P1": org.insert(
            "pse__Proj__c", Name="Alpha", pse__Project_ID__c="P1", pse__Region__c=emea,
            pse__Start_Date__c=date(2025, 1, 6), pse__Percent_Hours_Complete__c="12.5",
        ),
        "P2": org.insert("pse__Proj__c", Name="Beta", pse__Project_ID__c="P2"),
        "P3": org.insert(
            "pse__Proj__c", Name="Gamma", pse__Project_ID__c="P3", pse__Region__c=emea,
        ),
    }  # fmt: skip
    return org, ids
