"""The fake SAP system served for a person or a test: what the SAP connector's `sandbox()`
returns (`pmo-ledger sandbox --kind sap` prints its lines and settings). One seeded system
(an SQLite file) read two ways: S/4HANA OData V2 on HTTPS (the settings, transport "odata")
and RFC through the fake pyrfc module (`rfc_module`, the lines say how).

Faithful to SAP's documented behaviour (sources: gh:SAP/PyRFC src/pyrfc/_exception.py,
src/pyrfc/_cyrfc.pyx, doc/client.rst, doc/tables/error_types.csv, tests/test_errors.py;
PyRFC issue 42 for DATA_BUFFER_EXCEEDED's shape; Theobald Software's RFC_READ_TABLE
restrictions page for the 512-character row; ABAP Keyword Documentation for the dynamic WHERE;
odata.org OData V2 URI conventions and JSON format; SAP's generated OData clients (SAP Cloud
SDK for JavaScript, 2025: EnterpriseProject.ts, EnterpriseProjectElement.ts,
JournalEntryItemBasic.ts and JournalEntryItemBasicApi.ts) for the property names; the fact sheet
/work/shared/reference/source-apis.md section 3 and its corrections in section 7):
- pyrfc: `Connection(config=None, **params)` with sapnwrfc.ini logon parameters (ashost/sysnr,
  dest, mshost/sysid/group; client, user, passwd, lang), string values only; LogonError
  (code 2, RFC_LOGON_FAILURE, "Name or password is incorrect (repeat logon)"),
  CommunicationError (code 1) after which the connection opens itself again,
  ABAPApplicationError (code 5, the ABAP exception as `key`), ABAPRuntimeError (code 3),
  ExternalRuntimeError (code 20, RFC_INVALID_PARAMETER for an unknown parameter or field),
  FU_NOT_FOUND for an unknown function, TypeError for a non-int INT parameter, a refused call
  on a closed connection, CHAR values right-stripped (`rstrip`);
- RFC_READ_TABLE: QUERY_TABLE, DELIMITER, NO_DATA, ROWSKIPS, ROWCOUNT, OPTIONS (CHAR 72 lines,
  read in order, a line end splits tokens), FIELDS (FIELDNAME in; FIELDNAME, OFFSET, LENGTH,
  TYPE, FIELDTEXT out), DATA rows `WA` (CHAR 512) at the FIELDS offsets with the delimiter
  between values (a value may contain it); TABLE_WITHOUT_DATA, TABLE_NOT_AVAILABLE,
  NOT_AUTHORIZED, FIELD_NOT_VALID, DATA_BUFFER_EXCEEDED (selected width with delimiters over
  512, never for a NO_DATA probe), OPTION_NOT_VALID; the logon client's rows only; Open SQL
  conditions (comparisons in symbols and words, LIKE, IN, BETWEEN, NOT, AND, OR, parentheses,
  quoted literals with `''`, NUMC literals filled with zeros); the function under other names
  (/BODS/RFC_READ_TABLE...) as far as a system has them; S_RFC refusals (RFC_NO_AUTHORITY);
- BAPI_PROJECT_GETINFO: errors in its RETURN structure (BAPIRETURN1), never an exception;
- tables with SAP's field names and types: PROJ (currency in PWHIE), PRPS, PRHI, COSP and COSS
  (WTG/WOG/WKG/MEG 001..016, WRTTP, VERSN, BEKNZ...), COEP and COBK (CPUDT/CPUTM), BPGE and
  BPJA (budget 41 beside plan 01), T001, TKA01, TCURR (inverted GDATU, indirect quotes as
  negative rates), CSKS, AUFK; dates YYYYMMDD with 00000000, NUMC with leading zeros,
  amounts with a trailing minus;
- OData: see `odata.py` (paths, `d`/`results`, `__metadata`, `__deferred`, `__count`, `__next`
  with `$skiptoken`, `/Date(ms)/`, decimals as strings, Basic and OAuth client credentials,
  `sap-client`, error bodies, CSRF refusal of writes).

Simplified or assumed (not confirmed by a primary source):
- the LENGTH of a packed field is its DDIC length (DFIES-LENG) and a value that does not fit
  is cut on the left with `*` (as Theobald's "'*.0'" conversion warning suggests); positive
  amounts end in a blank where negative ones have `-`;
- an OPTIONS line over 72 characters is an ExternalRuntimeError RFC_CONVERSION_FAILURE (the
  RFC library's refusal; SAP's exact code unverified); a missing QUERY_TABLE an
  ABAPRuntimeError CALL_FUNCTION_PARM_MISSING; an ABAP exception's message is " Number:000";
- without ORDER BY a database gives no order: rows come in key order unless the `unordered`
  switch scrambles them per call;
- the field lists are the PS/CO fields a reader needs, not every field of SAP's tables (an
  unlisted field is FIELD_NOT_VALID); STUFE is INT1 written right-aligned;
- OData: the properties are a subset of the generated clients' lists (the journal item's
  Quantity left out, as the fact sheet's section 7 says); JSON only (no Atom XML: a request
  that does not ask JSON gets a 406); `$expand` of a project's elements only; `$batch`
  and writes are not served; the journal items come from the CO line items (COEP),
  amounts with 3 decimals, the company code's amount in EUR for company code 1000 and in the
  document currency for 2000; the parallel ledger 2L repeats company code 1000's items; error
  codes of SAP Gateway are plausible, not copied from a system; OAuth tokens are opaque;
- the RFC user has every authorization unless `not_authorized` names a table; the demo's
  postings are all in fiscal year 2025 (the PSA sample's year), fiscal year = calendar year,
  so `SandboxOptions.live` changes nothing; a CSRF token fetched (`x-csrf-token: Fetch`) is
  handed out but no write is served.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.erp_mirror import DEMO_PSA, PsaWorld
from pmo_ledger.connectors.sap.sandbox.odata import SapODataSandbox
from pmo_ledger.connectors.sap.sandbox.seed import CLIENT, USER, seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem

RFC_MODULE = fakerfc.__name__
"""What `rfc_module` names to read the sandbox over RFC."""
RFC_HOST = "sap-sandbox.invalid"
"""The application server name the sandbox's system answers to in this process."""
OAUTH_CLIENT = ("PMO_LEDGER_COMM", "Sandbox-OAuth-2025")
"""The OAuth client (communication arrangement) of the sandbox: id and secret."""


@contextmanager
def running(options: SandboxOptions, world: PsaWorld | None = DEMO_PSA) -> Iterator[Sandbox]:
    """The demo SAP system (an SQLite file in a temporary directory, removed at the end) with
    its OData services on HTTPS in a background thread and its RFC logon registered in this
    process (and reachable from others through the `fake_db` parameter). Its actuals are the
    expense lines of `world` (config/demo.toml's sample world unless None: `erp_mirror`)."""
    directory = Path(tempfile.mkdtemp(prefix="pmo-sap-sandbox-"))
    database = directory / "sap.db"
    system = SapSystem(database)
    try:
        seed = seed_demo(system, dirty=options.dirty, world=world)
        with (
            fakerfc.register(system, ashost=RFC_HOST, sysnr="00", dest="PMO_SANDBOX"),
            SapODataSandbox(
                system,
                oauth_clients=dict([OAUTH_CLIENT]),
                page_size=options.page_size or 100,
                host=options.host,
                port=options.port,
                cert_dir=options.cert_dir,
            ) as server,
        ):
            rfc = (
                f'ashost = "{RFC_HOST}", sysnr = "00", client = "{CLIENT}", '
                f'user = "{USER.user}", passwd = "{USER.password}", lang = "EN", '
                f'fake_db = "{database}"'
            )
            yield Sandbox(
                settings={
                    "transport": "odata",
                    "base_url": server.url,
                    "username": USER.user,
                    "password": USER.password,
                    "sap_client": CLIENT,
                    "ca_bundle": str(server.ca_file),
                },
                table="sap",
                lines=(
                    f"SAP sandbox: {len(seed.projects)} projects, {len(seed.wbs)} WBS "
                    f"elements, {len(seed.documents)} CO documents; OData on {server.url}",
                    f"  OData         {server.url}/sap/opu/odata/sap/API_ENTERPRISE_PROJECT_SRV",
                    f"                {server.url}/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV",
                    f"  user          {USER.user} (client {CLIENT})",
                    f"  password      {USER.password}",
                    f"  OAuth         {server.token_url} client {OAUTH_CLIENT[0]} "
                    f"secret {OAUTH_CLIENT[1]}",
                    f"  CA file       {server.ca_file}",
                    f'  RFC           transport = "rfc", rfc_module = "{RFC_MODULE}"',
                    f"                [connectors.<name>.rfc] {rfc}",
                    f"  tables        {database}",
                ),
            )
    finally:
        system.close()
        shutil.rmtree(directory, ignore_errors=True)
