"""The Adobe Workfront connector (`kind = "workfront"`): portfolios and programs, projects and
their budgets, tasks and predecessors, hours, expenses, assignments, users and their rates.

- `settings`: the configuration; `client`: credentials, sessions, paging and the error table;
- `objects`: the streams (object, fields, what counts); `normalize`: rows -> records;
  `values`: Workfront's field formats and units;
- `reader`: how a stream is read (full, incremental, deletions by journal or scan, one
  project) and the control totals from Workfront's `report`;
- `sandbox`: a local fake Workfront (`pmo-ledger sandbox --kind workfront`), reached only
  through `WorkfrontConnector.sandbox()`: importing the connector does not load it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
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
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.workfront.objects import STREAMS
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings

if TYPE_CHECKING:  # httpx and the read path load when a source is first read
    from pmo_ledger.connectors.workfront.client import WorkfrontClient
    from pmo_ledger.connectors.workfront.reader import StreamReader

__all__ = ["WorkfrontConnector", "WorkfrontSettings"]


class WorkfrontConnector(Connector):
    """Reads a Workfront instance over its REST API; see the package docstring."""

    kind: ClassVar[str] = "workfront"
    reads_ahead: ClassVar[bool] = True  # each page waits on the source's answer
    settings_model = WorkfrontSettings
    streams: Mapping[str, StreamSpec] = {name: s.spec for name, s in STREAMS.items()}
    example_settings: ClassVar[dict[str, Any]] = {
        "base_url": "https://acme.my.workfront.com",
        "api_key": "key",
    }

    def __init__(
        self,
        settings: ConnectorSettings,
        context: ConnectorContext,
        *,
        client: WorkfrontClient | None = None,
    ) -> None:
        if not isinstance(settings, WorkfrontSettings):
            raise ConnectorConfigError(f"{context.name}: expected WorkfrontSettings")
        super().__init__(settings, context)
        self.config = settings
        self._client = client

    @property
    def client(self) -> WorkfrontClient:
        if self._client is None:
            from pmo_ledger.connectors.workfront.client import WorkfrontClient

            self._client = WorkfrontClient(
                self.config,
                self.name,
                connect_timeout=self.context.connect_timeout.total_seconds(),
                read_timeout=self.context.read_timeout.total_seconds(),
            )
        return self._client

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """The fake Workfront of `pmo-ledger sandbox --kind workfront` (`sandbox.run`), on a
        free local port unless the options say. Imported here only: the read path never
        loads the sandbox."""
        from pmo_ledger.connectors.workfront.sandbox.run import running

        return running(options or SandboxOptions())

    def _reader(self, stream: str) -> StreamReader:
        if stream not in self.streams:
            raise ConnectorConfigError(
                f"{self.name} has no stream {stream!r} (streams: {', '.join(self.streams)})"
            )
        from pmo_ledger.connectors.workfront.reader import StreamReader

        return StreamReader(self.client, self.config, STREAMS[stream], self.context)

    def check(self) -> None:
        """One authenticated call (the number of projects); raises ConnectorConfigError
        naming the credential key when Workfront refuses it."""
        self.context.extra["check"] = {"projects": self.client.count("PROJ", {})}

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream`; see `connectors.workfront.reader`."""
        return self._reader(stream).pages(request)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Hours (count, cost, hours) and expenses (count, amount) per project and currency
        from Workfront's `report`; None for the other streams."""
        return self._reader(stream).control_totals()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
