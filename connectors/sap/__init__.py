"""The SAP connector (`kind = "sap"`): PS projects and WBS elements, CO actual costs by period.

- `settings`: the configuration (`transport = "rfc" | "odata"`, `[connectors.<name>.rfc]`);
- `rfc`: the PyRFC-compatible Connection (imported from `rfc_module` on first use; never a
  dependency), RFC_READ_TABLE (OPTIONS lines, FIELDS chunks, ROWSKIPS/ROWCOUNT, offsets) and
  the RFC error table; `rfc_source`: the tables read over it (PROJ, PRPS, PRHI, COSP/COSS,
  TKA01);
- `odata`: S/4HANA OData V2 (API_ENTERPRISE_PROJECT_SRV, API_JOURNALENTRYITEMBASIC_SRV);
- `values`: SAP's value images (YYYYMMDD, trailing minus, NUMC, /Date(ms)/); `normalize`:
  rows -> records; `periods`: SAP periods in the ledger's calendar; `reader`: period scopes;
- `sandbox`: the fakes of `pmo-ledger sandbox --kind sap`, reached only through
  `SapConnector.sandbox()`: importing the connector does not load them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Page,
    ReadRequest,
    Sandbox,
    SandboxOptions,
    SourceTotal,
    StreamSpec,
    fingerprint,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.pages import ordered_pages
from pmo_ledger.connectors.sap.budgets import budget_totals
from pmo_ledger.connectors.sap.listing import listing as master_listing
from pmo_ledger.connectors.sap.listing import remembered
from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.connectors.sap.reader import (
    ALL_PERIODS,
    Plan,
    actual_pages,
    control_totals,
    plan,
)
from pmo_ledger.connectors.sap.rfc import RfcClient
from pmo_ledger.connectors.sap.rfc_source import RfcSource
from pmo_ledger.connectors.sap.settings import SapSettings
from pmo_ledger.connectors.sap.streams import SapReads, confirmed

if TYPE_CHECKING:  # httpx loads when the OData wire is first used
    import httpx

    from pmo_ledger.connectors.sap.odata import ODataClient

__all__ = ["SapConnector", "SapSettings"]

_EXTERNAL_ID = "<OBJNR>/<KSTAR>/<GJAHR>/<PERIOD>/<WRTTP> (OData: <PR:WBS>/<GLAccount>/...)"
ITEM_ID = '<KOKRS>/<BELNR>/<BUZEI> (actuals = "items": CO line items, COEP)'
_DEFAULT_BUDGET_READS = ["41", ["KBUD", "KBN0", "KBR0", "KBUS", "KBUE"], "41", ["KBFR"], "0001"]
STREAMS: dict[str, StreamSpec] = {
    "projects": StreamSpec("projects", "token", "project", "<PSPID> (OData: Project)"),
    "tasks": StreamSpec(
        "tasks", "token", "task", "<POSID> (OData: ProjectElement)", after=("projects",)
    ),
    "budgets": StreamSpec(
        "budgets",
        "token",
        "budget",
        "<PSPID>/current and <PSPID>/released (lines <OBJNR>/<currency>[/<GJAHR>]), "
        "<PSPID>/plan (lines as actuals)",
        counts="`current`: budget activities `budget_activities` of value type 41",
        after=("tasks",),
    ),
    "fx_rates": StreamSpec(
        "fx_rates",
        "token",
        external_id="<rate_type>/<FCURR>/<TCURR>/<valid from> (TCURR, KURST = fx_rate_type)",
    ),
    "actuals": StreamSpec(
        "actuals",
        "period",
        "actual",
        _EXTERNAL_ID,
        counts="CO actuals (value type 04, version 000) of the object types read",
        scopes=("period",),
        after=("tasks",),
    ),
}


def _budget_reads(s: SapSettings) -> list[object]:
    """The settings that decide what the budgets stream counts."""
    return [s.budget_value_type, s.budget_activities, s.release_value_type,
            s.release_activities, s.budget_ledger]  # fmt: skip


class SapConnector(Connector):
    """Reads SAP PS/CO over RFC or S/4HANA OData; see the package docstring."""

    kind: ClassVar[str] = "sap"
    settings_model = SapSettings
    streams: Mapping[str, StreamSpec] = STREAMS
    counts_zero_lines: ClassVar[bool] = False  # a totals line at zero is in no source count
    #: Its reads wait on RFC calls or OData pages, and everything a read uses (the RFC
    #: connection, the OData client, the layouts and keys it caches) is the read's alone while
    #: it runs: the runner makes no other call during a sync (`control_totals`, `check` are
    #: verify's and the CLI's, on a connector of their own).
    reads_ahead: ClassVar[bool] = True
    example_settings: ClassVar[dict[str, Any]] = {
        "rfc": {"ashost": "sap.example.com", "sysnr": "00", "client": "100", "user": "PMO"},
        "controlling_area": "1000",
    }

    def __init__(
        self,
        settings: ConnectorSettings,
        context: ConnectorContext,
        *,
        transport: httpx.BaseTransport | None = None,
        today: date | None = None,
    ) -> None:
        if not isinstance(settings, SapSettings):
            raise ConnectorConfigError(f"{context.name}: expected SapSettings")
        super().__init__(settings, context)
        self.config = settings
        self._transport = transport
        self._today = today
        self._rfc: RfcSource | None = None
        self._odata: ODataClient | None = None
        self.reads = SapReads(settings, lambda: self.rfc, lambda: self.odata, self.periods)
        # The OData services carry no PS budget nor TCURR; rates only when a type is named.
        off = {"budgets", "fx_rates"} if settings.transport == "odata" else set()
        if settings.fx_rate_type is None:
            off.add("fx_rates")
        self.streams = {k: v for k, v in STREAMS.items() if k not in off}
        if settings.transport == "rfc" and settings.actuals == "items":
            items = replace(STREAMS["actuals"], cursor="timestamp", external_id=ITEM_ID)
            self.streams = {**self.streams, "actuals": items}

    # --- sources -------------------------------------------------------------------------

    @property
    def rfc(self) -> RfcSource:
        if self._rfc is None:
            s = self.config
            client = RfcClient(
                self.name,
                s.rfc_module,
                s.logon(),
                read_table_function=s.read_table_function,
                delimiter=s.delimiter,
                row_bytes=s.row_bytes,
                page_rows=s.page_rows,
                attempts=s.max_attempts,
                backoff=s.backoff_seconds,
            )
            self._rfc = RfcSource(client, s)
        return self._rfc

    @property
    def odata(self) -> ODataClient:
        if self._odata is None:
            from pmo_ledger.connectors.sap.odata import ODataClient

            self._odata = ODataClient(self.config, self.context, self._transport)
        return self._odata

    def periods(self) -> FiscalPeriods:
        return FiscalPeriods(self.context.calendar, self._today or datetime.now(UTC).date())

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """The fake SAP of `pmo-ledger sandbox` (an RFC module and an OData server). Imported
        here only: the read path never loads the sandbox."""
        from pmo_ledger.connectors.sap.sandbox.run import running

        return running(options or SandboxOptions())

    # --- the contract --------------------------------------------------------------------

    def check(self) -> None:
        """RFC_PING over RFC; one project row over OData."""
        if self.config.transport == "rfc":
            self.rfc.check()
        else:
            self.odata.ping()

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        if stream not in self.streams:
            raise ConnectorConfigError(
                f"{self.name} has no stream {stream!r} (streams: {', '.join(self.streams)})"
            )
        if stream != "actuals":
            if request.scope is not None:
                raise ConnectorConfigError(f"stream {stream} cannot re-sync {request.scope}")
            r = self.reads
            read = {
                "projects": r.projects,
                "tasks": r.tasks,
                "budgets": r.budgets,
                "fx_rates": r.rates,
            }
            items = read[stream]()
            if stream in ("projects", "tasks"):  # deletions SAP never flags: see `listing`
                again = r.projects if stream == "projects" else r.tasks
                items = confirmed(
                    items, remembered(request.checkpoint), again, name=self.name, stream=stream
                )
                listing = master_listing(
                    request.checkpoint,
                    name=self.name,
                    stream=stream,
                    share=self.config.max_vanished_share,
                    minimum=self.config.max_vanished_min,
                )
                pages = ordered_pages(
                    listing.items(items), self.config.page_size, checkpoints=False
                )
                return SapReads.last_checkpoint(pages, listing.checkpoint)
            return SapReads.last_checkpoint(
                ordered_pages(items, self.config.page_size, checkpoints=False)
            )
        periods = self.periods()
        if self.config.transport == "rfc" and self.config.actuals == "items":
            return self.reads.item_pages(stream, request, periods)
        s = self.config
        p = plan(request, stream, periods, s.open_periods_back, s.special_periods_open_until)
        return actual_pages(stream, p, self.reads.actual_items(p, periods), self.config.page_size)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Actuals: per project key and currency, the lines a full read lists (count, amount,
        hours where the unit is hours), summed from the same tables. None for other streams."""
        if stream == "budgets":
            return budget_totals(self.reads.budgets())
        if stream != "actuals":
            return None
        periods = self.periods()
        if self.config.transport == "rfc" and self.config.actuals == "items":
            listed = [i for _, i in self.reads.line_items(periods, None, None)]
            return control_totals({"": listed})
        full = Plan(None, ALL_PERIODS, None, None)
        return control_totals(self.reads.actual_items(full, periods))

    def read_fingerprint(self, stream: str) -> str | None:
        s = self.config
        return fingerprint(
            [s.transport, s.actuals, s.object_types, s.plan_version, s.first_year, s.ledger,
             s.wbs_property, s.currency, s.controlling_area,
             # a new mapping of cost elements restates the lines (none: as before it existed)
             *([s.cost_types] if s.cost_types else []),
             # what makes the budget and the release (the defaults: as before they printed)
             *([] if _budget_reads(s) == _DEFAULT_BUDGET_READS else [_budget_reads(s)])]
        )  # fmt: skip

    def close(self) -> None:
        if self._rfc is not None:
            self._rfc.client.close()
        if self._odata is not None:
            self._odata.close()
