"""The fake Adobe Workfront served for a person or a test: what `WorkfrontConnector.sandbox()`
returns (`pmo-ledger sandbox --kind workfront` prints its lines and settings).

Faithful to Workfront's documented wire format (sources: Adobe's "API basics",
gh:AdobeDocs/workfront.en/help/quicksilver/wf-api/general/api-basics.md; "Paginated search
returns duplicates", .../tips-tricks-and-troubleshooting/duplicates-paginated-search.md;
"Track hour records with the Workfront API"; the OAuth2 flow pages; our fact sheet
/work/shared/reference/source-apis.md section 2 and its section 7):
- paths `/attask/api/v{N}.0/` (19.0 by default, 2.0-21.0 accepted), objects by code or name,
  `{obj}/search`, `{obj}/count` (`{"data": {"count": N}}`), `{obj}/report`, `{obj}/{ID}`;
- `/login?username&password` -> `data.sessionID`; `sessionID` header or parameter; `apiKey`
  header or parameter; an OAuth access token is a session ID; sessions expire and are then a
  401 with `{"error": {"class": "com.attask.common.AuthenticationException", ...}}`;
- filters with `_Mod` (and `_Range`, `OR:n:`, nested paths), `fields=` (nested, `*`, `DE:`,
  `parameterValues`), `$$FIRST`/`$$LIMIT` (default 100, over 2000 an IllegalArgumentException),
  `_Sort`; without a sort every search shuffles its rows, so unsorted paging repeats and skips;
- report `<field>_AggFunc=sum` with `<path>_1_GroupBy=true` and `$$ROLLUP=true`, in the
  documented shape (`{"data": {"<group>": {"sum_hours": N}}}`);
- datetimes `2010-08-30T09:00:00:000-0600` in the account's zone (America/Denver: the offset
  moves with daylight saving); numbers with their exact decimal text; minutes in
  `workRequired`/`actualWorkRequired`/`durationMinutes`, hours in `hours`/`work`;
- hours and expenses deleted outright, with a JRNLE entry (`changeType` D, `subObjCode`,
  `subObjID`, `objObjCode`/`objID`, `oldNumberVal`, `entryDate`) when the journal is on;
  PRED, ASSGN and ROLE have no `lastUpdateDate` (filtering on it is an error); a deleted
  assignment or predecessor (`delete_assignment`, `delete_predecessor`) is removed outright
  with no journal entry (Adobe documents the journal's entries of hours, not of these).

Simplified or assumed (not confirmed by a primary source):
- hour status codes `APP`/`SUB`/`REJ`; ASSGN status `A`; the journal's edit type `E`;
- business dates (HOUR `entryDate`, EXPNS `effectiveDate`) are written as midnight in the
  account's zone, the form the fact sheet illustrates (`WorkfrontSandbox(plain_dates=True)`:
  `2025-03-03`); count and report answers are wrapped in `data` as the official client reads
  them (`bare_aggregates=True`: bare, as api-basics.md prints them);
- a null group in a report is the key `"null"`; the refusal of JRNLE (journal not readable)
  is a 403 `com.attask.common.NotAllowedException`; throttling is a 429 with `Retry-After`
  and 5xx bodies are JSON errors;
- `SandboxOptions.page_size` is not used: a client's `$$LIMIT` sizes its pages;
- only reads are served (GET, or POST with `method=get`); `map=true`, named queries,
  collections in `fields` and custom forms beyond the seeded `DE:` fields are not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.workfront.sandbox.api import ApiUser
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import DEMO_PSA, PsaWorld
from pmo_ledger.connectors.workfront.sandbox.seed import DEFAULT_HOURS, seed_demo
from pmo_ledger.connectors.workfront.sandbox.server import WorkfrontSandbox
from pmo_ledger.connectors.workfront.sandbox.store import FakeWorkfront


@contextmanager
def running(
    options: SandboxOptions,
    *,
    hours: int = DEFAULT_HOURS,
    session_ttl: float = 1800.0,
    psa: PsaWorld | None = DEMO_PSA,
) -> Iterator[Sandbox]:
    """The demo Workfront account (with the `dirty` rows when asked; `hours` drawn: the size
    knob, e.g. 100_000 for throughput figures; the hours of the PSA's projects are its
    timecards, `psa`: config/demo.toml's sample PSA unless None; sessions end `session_ttl`
    seconds after their last use) on HTTPS in a background thread; with `live`, its clock
    starts at now if that is later than the demo's end, so a connector's wall-clock windows
    fall inside it."""
    store = FakeWorkfront()
    seed = seed_demo(store, hours=hours, dirty=options.dirty, psa=psa)
    if options.live:
        store.set_now(max(store.now(), datetime.now(UTC).replace(microsecond=0)))
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(
        store,
        host=options.host,
        port=options.port,
        user=user,
        session_ttl=session_ttl,
        cert_dir=options.cert_dir,
    ) as server:
        server.delay = options.delay
        yield Sandbox(
            settings={
                "base_url": server.url,
                "api_key": user.api_key,
                "ca_bundle": str(server.ca_file),
            },
            table="workfront",
            lines=(
                f"Workfront sandbox: {sum(seed.counts.values())} demo records, listening on "
                f"{server.url}",
                f"  API           {server.api_url}",
                f"  API key       {user.api_key}",
                f"  username      {user.username}",
                f"  password      {user.password}",
                f"  CA file       {server.ca_file}",
            ),
        )
