"""A local fake Salesforce org ("sandbox") that the real simple-salesforce client talks to over
HTTPS on 127.0.0.1: SOAP and OAuth logins, REST query/queryAll with cursors, describe,
getDeleted/getUpdated, limits, Bulk API 2.0 query jobs, with Salesforce's wire formats
(Java-style numbers, `+0000` datetimes, JSON error lists, `Sforce-Limit-Info`).

    org = FakeOrg()
    seed_demo(org)
    with SandboxServer(org, page_size=500) as server:
        ...  # log in at server.login_url, trust server.ca_file

Modules: `org` (records, clock, delete log), `schema` (objects and fields), `soql_tokens` /
`soql` (parser), `bind` / `execute` (evaluation), `values` (wire encoding), `auth` (logins,
tokens), `rest` / `bulk` (resources), `api` (routing, limits, injected failures), `server`
(HTTPS), `tls` (certificates), `seed` (the demo org), `ids` (record ids).
"""

from connectors.salesforce.sandbox.api import LoggedRequest
from connectors.salesforce.sandbox.auth import SANDBOX_APP, SANDBOX_USER, ConnectedApp, SandboxUser
from connectors.salesforce.sandbox.org import DEFAULT_START, FakeOrg
from connectors.salesforce.sandbox.schema import FieldDef, FieldType, ObjectDef
from connectors.salesforce.sandbox.seed import DemoSeed, seed_demo
from connectors.salesforce.sandbox.server import SandboxServer
from connectors.salesforce.sandbox.tls import TlsFiles, load_or_create

__all__ = [
    "DEFAULT_START",
    "SANDBOX_APP",
    "SANDBOX_USER",
    "ConnectedApp",
    "DemoSeed",
    "FakeOrg",
    "FieldDef",
    "FieldType",
    "LoggedRequest",
    "ObjectDef",
    "SandboxServer",
    "SandboxUser",
    "TlsFiles",
    "load_or_create",
    "seed_demo",
]
