"""A local fake Adobe Workfront ("sandbox") that a connector talks to over HTTPS on 127.0.0.1:
the `/attask/api/v{N}.0/` REST API with login, API keys and sessions, search with filters,
modifiers, sorting and paging, count, report, and the journal of deleted hours and expenses,
in Workfront's wire formats. `run.py` says what is faithful and what is simplified.

    store = FakeWorkfront()               # clock at DEFAULT_START, zone America/Denver
    seed = seed_demo(store)               # or store.insert("HOUR", {...})
    with WorkfrontSandbox(store) as server:
        httpx.get(server.api_url + "HOUR/count", verify=str(server.ca_file),
                  headers={"apiKey": server.user.api_key})

Modules: `schema` (objects, fields, references), `values` (wire encoding, filter values),
`store` (records, clock, journal), `params` (what a request asks for), `query` (filters,
sorts, fields, paging, report), `api` (routing, auth, sessions, failures, call log), `server`
(HTTPS and the test handle), `seed` (the demo account), `psa_mirror` (the sample PSA's
timecards its hours mirror), `run` (the demo account served for `WorkfrontConnector.sandbox()`).
"""

from pmo_ledger.connectors.workfront.sandbox.api import DEFAULT_VERSION, ApiUser, LoggedRequest
from pmo_ledger.connectors.workfront.sandbox.seed import (
    APPROVED,
    AS_OF,
    DEFAULT_HOURS,
    REJECTED,
    SUBMITTED,
    DemoSeed,
    seed_demo,
)
from pmo_ledger.connectors.workfront.sandbox.server import WorkfrontSandbox
from pmo_ledger.connectors.workfront.sandbox.store import DEFAULT_START, FakeWorkfront

__all__ = [
    "APPROVED",
    "AS_OF",
    "DEFAULT_HOURS",
    "DEFAULT_START",
    "DEFAULT_VERSION",
    "REJECTED",
    "SUBMITTED",
    "ApiUser",
    "DemoSeed",
    "FakeWorkfront",
    "LoggedRequest",
    "WorkfrontSandbox",
    "seed_demo",
]
