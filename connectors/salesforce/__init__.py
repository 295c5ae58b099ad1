"""The Salesforce connector (`kind = "salesforce"`): Certinia PSA projects, budgets, timecards,
expenses, assignments and resources, Opportunities, and the org's exchange rates.

- `settings`: the configuration; `client`: login, HTTP, paging and the error table;
- `objects`: the streams (object, default fields, what counts); `normalize`: rows -> records;
- `reader`: how a stream is read (full scope, incremental, re-sync of one scope, Bulk 2.0);
- `sandbox`: a local fake org that speaks the REST wire format (`pmo-ledger sandbox`), reached
  only through `SalesforceConnector.sandbox()`: importing the connector does not load it.

Importing the connector loads no HTTP library: `client` and `reader` (simple-salesforce,
requests, structlog) are imported when a stream is first read or the org checked, so listing
the installed kinds (`pmo-ledger connectors`, the configuration's key check) stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from pmo_ledger.connectors.base import (
    Allowance,
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
from pmo_ledger.connectors.salesforce.objects import STREAMS, role_problems
from pmo_ledger.connectors.salesforce.settings import SalesforceSettings

if TYPE_CHECKING:
    from pmo_ledger.connectors.salesforce.client import SalesforceClient
    from pmo_ledger.connectors.salesforce.reader import StreamReader

__all__ = ["SalesforceConnector", "SalesforceSettings"]


class SalesforceConnector(Connector):
    """Reads a Salesforce org through simple-salesforce; see the package docstring."""

    kind: ClassVar[str] = "salesforce"
    reads_ahead: ClassVar[bool] = True  # each page waits on the source's answer
    settings_model = SalesforceSettings
    streams: Mapping[str, StreamSpec] = {name: s.spec for name, s in STREAMS.items()}
    example_settings: ClassVar[dict[str, Any]] = {
        "login_url": "https://test.salesforce.com",
        "username": "integration@example.com",
        "password": "secret",
        "security_token": "token",
    }

    def __init__(
        self,
        settings: ConnectorSettings,
        context: ConnectorContext,
        *,
        client: SalesforceClient | None = None,
    ) -> None:
        if not isinstance(settings, SalesforceSettings):
            raise ConnectorConfigError(f"{context.name}: expected SalesforceSettings")
        super().__init__(settings, context)
        self.config = settings
        unknown = sorted(set(settings.streams) - set(STREAMS))
        if unknown:
            raise ConnectorConfigError(
                f"connectors.{context.name}.streams: unknown stream {', '.join(unknown)} "
                f"(streams: {', '.join(STREAMS)})"
            )
        problems = role_problems(
            context.name, settings.streams, multi_currency=settings.multi_currency
        )
        if problems:
            raise ConnectorConfigError("\n".join(problems))
        # Streams switched off (or FX in a single-currency org) are not declared at all.
        fx = {"fx_rates", "currency_rates"}
        self.streams = {
            name: spec
            for name, spec in type(self).streams.items()
            if settings.stream(name).enabled and (settings.multi_currency or name not in fx)
        }
        self._client = client

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            from pmo_ledger.connectors.salesforce.client import SalesforceClient, http_session

            http = http_session(
                self.config,
                self.context.connect_timeout.total_seconds(),
                self.context.read_timeout.total_seconds(),
            )
            self._client = SalesforceClient(self.config, http, self.name)
        return self._client

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """The demo org of `pmo-ledger sandbox` (`sandbox.run`), on a free local port unless
        the options say. Imported here only: the read path never loads the sandbox."""
        from pmo_ledger.connectors.salesforce.sandbox.run import running

        return running(options or SandboxOptions())

    def _reader(self, stream: str) -> StreamReader:
        from pmo_ledger.connectors.salesforce.reader import StreamReader

        if stream not in self.streams:
            raise ConnectorConfigError(
                f"{self.name} has no stream {stream!r} (streams: {', '.join(self.streams)})"
            )
        return StreamReader(self.client, self.config, STREAMS[stream], self.context)

    def check(self) -> None:
        """Log in and read the API allowance; raises ConnectorConfigError / Transient."""
        self.context.extra["check"] = self.client.check()

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream`; see `connectors.salesforce.reader`."""
        return self._reader(stream).pages(request)

    def stream_fingerprint(self, stream: str) -> str | None:
        """The object a stream reads: changing it (timecard splits to headers) retires it."""
        return self._reader(stream).sobject if stream in self.streams else None

    def read_fingerprint(self, stream: str) -> str | None:
        """What decides the rows a read of the stream lists and the records they make: its
        object, fields, conditions and the org settings its rows are read with (not the
        login or transport: changing `api_headroom` does not start a cut-off read over)."""
        if stream not in self.streams:
            return None
        return fingerprint(self._reader(stream).definition())

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Per project and currency of the rows that count: count, amount and hours (where
        the stream maps hours: timecards); budgets: the budgets in a counting status, which
        the `current` version holds. None for streams without amounts."""
        reader = self._reader(stream)
        return reader.control_totals()

    def api_allowance(self) -> Allowance | None:
        """`DailyApiRequests` from the last `Sforce-Limit-Info` header seen."""
        usage = self._client.usage if self._client is not None else None
        return Allowance(*usage) if usage is not None else None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
