"""A local fake Salesforce org ("sandbox") that the real simple-salesforce client talks to over
HTTPS on 127.0.0.1: SOAP and OAuth logins, REST query/queryAll with cursors, describe,
getDeleted/getUpdated, limits, Bulk API 2.0 query jobs, with Salesforce's wire formats
(Java-style numbers, `+0000` datetimes, JSON error lists, `Sforce-Limit-Info`).

    org = FakeOrg()                       # clock at DEFAULT_START, multi-currency
    seed_demo(org)                        # or org.insert("pse__Proj__c", Name=...)
    with SandboxServer(org, page_size=500) as server:
        session = requests.Session(); session.verify = str(server.ca_file)
        sid, instance = SalesforceLogin(username=server.user.username, ...,
                                        scratch_url=server.login_url, session=session)

The org: `now/advance/set_now` (its own clock, +1 s per write), `insert`, `update` (user
edit), `system_update` (only SystemModstamp), `update_silently` (no stamp), `delete`,
`undelete`, `purge_delete_log`, `get`, `rows`, `describe`, `drop_field` (the org lacks a
field: describe omits it, a query naming it is INVALID_FIELD). The server: `page_size`,
`api_limit`, `expire_sessions`, `expire_after`, `fail_next`, `bulk_polls_in_progress`,
`requests` (the log), `url` / `login_url` / `instance_url`, `ca_file`.

Modules: `org` (records, clock, delete log), `schema` (objects and fields), `soql_tokens` /
`soql` (parser), `bind` / `execute` (evaluation), `values` (wire encoding), `auth` (logins,
tokens), `rest` / `bulk` (resources), `replies` (requests and answers), `api` (routing,
limits, injected failures), `server` (HTTPS, on `connectors.kit.sandbox_https`; certificates from
`connectors.kit.sandbox_tls`), `seed`
(the demo org), `ids` (record ids), `run` (the demo org served for `SalesforceConnector.sandbox()`).
"""

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles, load_or_create
from pmo_ledger.connectors.salesforce.sandbox.api import LoggedRequest
from pmo_ledger.connectors.salesforce.sandbox.auth import (
    SANDBOX_APP,
    SANDBOX_USER,
    ConnectedApp,
    SandboxUser,
)
from pmo_ledger.connectors.salesforce.sandbox.org import DEFAULT_START, FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.schema import FieldDef, FieldType, ObjectDef
from pmo_ledger.connectors.salesforce.sandbox.seed import DemoSeed, seed_demo
from pmo_ledger.connectors.salesforce.sandbox.server import SandboxServer

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
