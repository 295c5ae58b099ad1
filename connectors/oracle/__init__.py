"""The Oracle connector (`kind = "oracle"`): Oracle Projects, from E-Business Suite
(`flavor = "ebs"`, SQL over python-oracledb) or Fusion Cloud PPM (`flavor = "fusion"`, REST).

- `settings`: the configuration (`[connectors.<name>]`, and `[connectors.<name>.fusion]`);
- `ebs/`: the EBS tables as SQLAlchemy Core tables (`tables`), the engine and its errors
  (`source`), rows -> records (`normalize`), the statements and pages (`reader`);
- `fusion/`: the Fusion Cloud REST flavor;
- `sandbox/`: the stand-ins of `pmo-ledger sandbox --kind oracle` (an EBS-shaped schema in
  SQLite, the Fusion fake server), reached only through `OracleConnector.sandbox()`.

Importing this module loads neither SQLAlchemy's engine nor python-oracledb nor httpx: the
flavor's reader is imported on first use (`pmo-ledger --help` and `connectors` stay light).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
    fingerprint,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.oracle.settings import OracleSettings

if TYPE_CHECKING:
    from pmo_ledger.connectors.oracle.ebs.reader import EbsReader
    from pmo_ledger.connectors.oracle.fusion.reader import FusionReader

__all__ = ["OracleConnector", "OracleSettings"]

_LINE = "<EXPENDITURE_ITEM_ID>/<LINE_NUM> (a raw cost distribution line; Fusion: see fusion/)"
STREAMS: dict[str, StreamSpec] = {
    "projects": StreamSpec("projects", "timestamp", "project", "<SEGMENT1> (project number)",
                           counts="every project that is not a template (TEMPLATE_FLAG)"),
    "tasks": StreamSpec("tasks", "timestamp", "task", "<TASK_ID>", after=("projects",)),
    "budgets": StreamSpec(
        "budgets",
        "timestamp",
        "budget",
        "<BUDGET_VERSION_ID> (current), <BUDGET_VERSION_ID>/original (baseline)",
        counts="the current baselined cost budget (type budget_type, status B, CURRENT_FLAG Y); "
        "earlier baselined versions are loaded as superseded history",
        after=("tasks",),
    ),
    "actuals": StreamSpec(
        "actuals",
        "timestamp",
        "actual",
        _LINE,
        counts="raw cost distribution lines (LINE_TYPE R) of expenditure items on projects "
        "that are not templates; reversing lines and negative items net",
        scopes=("project",),
        after=("tasks",),
    ),
    "fx_rates": StreamSpec(
        "fx_rates",
        "timestamp",
        external_id="<ledger_rate_type>/<FROM_CURRENCY>/<TO_CURRENCY>/<CONVERSION_DATE>",
    ),
}


class OracleConnector(Connector):
    """Reads Oracle Projects (EBS or Fusion Cloud); see the package docstring."""

    kind: ClassVar[str] = "oracle"
    settings_model = OracleSettings
    streams: Mapping[str, StreamSpec] = STREAMS
    #: Its reads wait on the database (EBS: statements over a SQLAlchemy pool of python-oracledb
    #: connections, each read on a connection of its own) or on Fusion's REST pages (one httpx
    #: client, its token exchange locked); the runner makes no other call during a sync.
    reads_ahead: ClassVar[bool] = True
    example_settings: ClassVar[dict[str, Any]] = {
        "url": "oracle+oracledb://apps_ro@ebs.example.com:1521/?service_name=EBS",
        "password": "example",
    }

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, OracleSettings):
            raise ConnectorConfigError(f"{context.name}: expected OracleSettings")
        super().__init__(settings, context)
        self.config = settings
        self._ebs: EbsReader | None = None
        self._fusion: FusionReader | None = None
        if settings.fusion is not None:
            self.streams = self.fusion.streams()
        else:
            off = {"fx_rates"} if settings.fx_rate_type is None else set()
            self.streams = {k: v for k, v in STREAMS.items() if k not in off}

    @property
    def ebs(self) -> EbsReader:
        if self._ebs is None:
            from pmo_ledger.connectors.oracle.ebs.reader import EbsReader

            self._ebs = EbsReader(self.config, self.context)
        return self._ebs

    @property
    def fusion(self) -> FusionReader:
        """The Fusion flavor's reader (its HTTP client starts on first use)."""
        if self._fusion is None:
            from pmo_ledger.connectors.oracle.fusion.reader import FusionReader

            if self.config.fusion is None:
                raise ConnectorConfigError(f"{self.name}: flavor fusion needs its fusion table")
            self._fusion = FusionReader(self.config.fusion, self.context)
        return self._fusion

    @property
    def flavor(self) -> EbsReader | FusionReader:
        return self.fusion if self.config.flavor == "fusion" else self.ebs

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """The EBS-shaped schema of `pmo-ledger sandbox --kind oracle` (an SQLite file with
        the demo's projects). Imported here only: the read path never loads the sandbox."""
        from pmo_ledger.connectors.oracle.sandbox.run import running

        return running(options or SandboxOptions())

    def _stream(self, stream: str) -> None:
        if stream not in self.streams:
            raise ConnectorConfigError(
                f"{self.name} has no stream {stream!r} (streams: {', '.join(self.streams)})"
            )

    def check(self) -> None:
        """A count of the projects (EBS); one project row (Fusion)."""
        self.flavor.check()

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        self._stream(stream)
        return self.flavor.extract(stream, request)

    def control_totals(self, stream: str) -> Sequence[SourceTotal] | None:
        """Actuals and budgets per project and currency, summed by the source: SQL SUMs
        (EBS), aggregated pages (Fusion)."""
        self._stream(stream)
        return self.flavor.control_totals(stream)

    def read_fingerprint(self, stream: str) -> str | None:
        s = self.config
        if s.fusion is not None:
            return fingerprint(s.fusion.model_dump(mode="json", exclude={"password",
                                                                         "client_secret"}))
        return fingerprint([s.flavor, s.url, s.schema_name, s.cost, s.org_ids, s.budget_type,
                            s.fx_rate_type, s.ledger_rate_type, s.base_currency])  # fmt: skip

    def stream_fingerprint(self, stream: str) -> str | None:
        """Raw and burdened cost are different money: a change re-reads the stream in full."""
        cost = self.config.fusion.cost if self.config.fusion else self.config.cost
        return f"cost={cost}" if stream in ("actuals", "budgets") else None

    def close(self) -> None:
        if self._ebs is not None:
            self._ebs.close()
        if self._fusion is not None:
            self._fusion.close()
