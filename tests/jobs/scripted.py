"""A scripted connector for runner tests: streams yield exactly the pages a test gives."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
    StreamSpec,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.lease import Lease
from pmo_ledger.ledger.models import SyncRun, utcnow
from pmo_ledger.ledger.records import ActualRecord, ProjectRecord

Script = Callable[[ReadRequest], Iterable[Page]]


class ScriptedConnector(Connector):
    """Each stream's pages come from a function of the request; `requests` records them."""

    kind = "scripted"
    settings_model = ConnectorSettings
    streams: dict[str, StreamSpec] = {}  # noqa: RUF012 - set per instance

    def __init__(self, scripts: dict[str, Script], specs: dict[str, StreamSpec] | None = None) -> None:
        super().__init__(ConnectorSettings(), ConnectorContext("s1"))
        self.scripts = scripts
        self.streams = specs or {
            name: StreamSpec(name, "offset", scopes=("project", "period")) for name in scripts
        }
        self.requests: list[tuple[str, ReadRequest]] = []
        self.fingerprints: dict[str, str] = {}
        #: What a stream's full read lists by (its query, as configured): see read_fingerprint.
        self.reads: dict[str, str] = {}

    def stream_fingerprint(self, stream: str) -> str | None:
        return self.fingerprints.get(stream)

    def read_fingerprint(self, stream: str) -> str | None:
        return self.reads.get(stream) or super().read_fingerprint(stream)

    def check(self) -> None:
        return None

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        self.requests.append((stream, request))
        yield from self.scripts[stream](request)


def make_app(engine: Engine, tmp_path: Path, **ledger: Any) -> App:
    """An App on the test engine with one connector 's1' (the source of every test line)."""
    data = {
        "ledger": {"url": engine.url.render_as_string(hide_password=False), "base_currency": "USD",
                   **ledger},
        "connectors": {"s1": {"kind": "scripted", "lookback": "15m"}},
    }
    config = parse_config(data, {}, tmp_path)
    return App(config, None, _engine=engine)


def line(external_id: str, amount: str = "10.00", project: str = "A", **kw: Any) -> ActualRecord:
    """An actual of project source key `project` posted 2025-10-15 in USD."""
    values: dict[str, Any] = {"posted_on": date(2025, 10, 15), "currency": "USD", "cost_type": "expense"}
    values.update(kw)
    return ActualRecord(external_id=external_id, project_ref=project, amount=Decimal(amount), **values)


def projects(*codes: str) -> Page:
    """Project records of s1 keyed by their code."""
    return Page(records=[ProjectRecord(external_id=c, code=c, name=f"Project {c}") for c in codes])


def pages_of(records: list[Any], size: int, scope: str | None = None, start: int = 0) -> list[Page]:
    """Records in pages of `size` with offset checkpoints; a scope wraps them when given."""
    out: list[Page] = []
    for i in range(0, len(records), size):
        out.append(Page(records=records[i : i + size], checkpoint=Cursor("offset", start + i + size)))
    if scope:
        if not out:
            out = [Page()]
        out[0] = Page(out[0].records, checkpoint=out[0].checkpoint, scope=ScopeStart(scope))
        out.append(Page(scope=ScopeEnd(scope)))
    return out


def held_run(engine: Engine, lease: Lease) -> int:
    """A `running` scheduled run of the lease's connector, attached to the (acquired) lease,
    as another process would leave it; returns its id."""
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(SyncRun)
            .values(connector=lease.name, status="running", trigger="schedule", started_at=utcnow())
            .returning(SyncRun.id)
        ).scalar_one()
        lease.attach(conn, run_id)
    return int(run_id)
