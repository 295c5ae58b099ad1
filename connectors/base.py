"""The connector contract (DESIGN.md "The connector contract").

A connector is built from its validated settings, declares its streams, and for each stream
yields `Page`s from `extract(stream, request)`. It never stores cursors, never touches the
ledger and never opens a transaction: the runner (`jobs.sync`) owns state, batching and
loading. Bad rows travel in `Page.rejected`; only whole-read failures raise (`connectors.errors`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from pmo_ledger.ledger.records import DELETION_KINDS, Record, Rejected
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import parse_period

CursorKind = Literal["timestamp", "period", "offset", "token"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in a stream: a UTC timestamp, a 'YYYY-PP' period, an offset or an opaque token.

    Stored as JSON in `sync_state` (`to_json` / `from_json`). Timestamps, periods and offsets
    are ordered; tokens are not (a connector that uses them sets one on its last page only).
    """

    kind: CursorKind
    value: datetime | str | int

    def __post_init__(self) -> None:
        ok = {
            "timestamp": isinstance(self.value, datetime) and self.value.tzinfo is not None,
            "period": isinstance(self.value, str),
            "offset": isinstance(self.value, int) and not isinstance(self.value, bool),
            "token": isinstance(self.value, str),
        }[self.kind]
        if not ok:
            raise ValueError(f"a {self.kind} cursor cannot hold {self.value!r}")
        if self.kind == "period":
            parse_period(str(self.value))

    def to_json(self) -> dict[str, Any]:
        value = (
            self.value.astimezone(UTC).isoformat()
            if isinstance(self.value, datetime)
            else self.value
        )
        return {"kind": self.kind, "value": value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cursor:
        kind, value = data["kind"], data["value"]
        if kind == "timestamp":
            value = datetime.fromisoformat(value)
        return cls(kind, value)

    def comparable(self, other: Cursor) -> bool:
        """Whether the two can be ordered (same kind, not tokens)."""
        return self.kind == other.kind and self.kind != "token"

    def __lt__(self, other: Cursor) -> bool:
        if not self.comparable(other):
            raise TypeError(f"cannot order a {self.kind} cursor against a {other.kind} cursor")
        return self.value < other.value  # type: ignore[operator]

    def minus(self, lookback: timedelta) -> Cursor:
        """A timestamp cursor moved back by the lookback; other kinds are returned as they are."""
        if self.kind == "timestamp" and isinstance(self.value, datetime):
            return Cursor("timestamp", self.value - lookback)
        return self


@dataclass(frozen=True, slots=True)
class ScopeStart:
    """From here until ScopeEnd(key) the source lists every key of the scope.

    `restarted`: the connector was asked to continue a cut-off full read (`ReadRequest.resume`)
    and could not (its position is unreadable or no longer valid): it reads the scope again
    from the start, and the keys the earlier parts listed no longer count.
    """

    key: str
    restarted: bool = False


@dataclass(frozen=True, slots=True)
class ScopeEnd:
    """The scope is complete: what it holds in the ledger but was not listed is gone."""

    key: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a stream. A ScopeStart applies before the page's records, a ScopeEnd after.

    `checkpoint` is set only when every record with a smaller cursor value has been yielded.
    `resume` (optional) is where a full read of the stream's own scope (ScopeStart(stream))
    could continue after this page: when the read stops before its ScopeEnd, the runner keeps
    the last one it committed with the keys the scope listed so far and hands it back as
    `ReadRequest.resume`. A connector that sets it must honour that request.
    `expected` (optional) announces how many source rows the read will yield in all, each as a
    record, a deletion or a rejection (e.g. the source's count, asked before the first page);
    the runner shows it as the progress bar's total against the rows yielded so far. Set it
    on any page; a later announcement replaces an earlier one.
    """

    records: Sequence[Record] = ()
    deletions: Sequence[str] = ()
    rejected: Sequence[Rejected] = ()
    checkpoint: Cursor | None = None
    scope: ScopeStart | ScopeEnd | None = None
    resume: Cursor | None = None
    expected: int | None = None


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Where to read from. `cursor`: the stored checkpoint minus the lookback, or the first open
    period, or None for a full read; `checkpoint`: the stored value as it is; `scope`: None, or
    the scope key of a `--project` / `--period` re-sync, read in full between ScopeStart and
    ScopeEnd (or refused with ConnectorConfigError); `resume`: None, or the `Page.resume` of a
    full read of the stream that stopped before its ScopeEnd: the connector continues that same
    read (same scope, same start) after it, whatever `cursor` says. A connector that cannot
    continue from it reads the stream in full from the start and says so on its first page,
    `ScopeStart(stream, restarted=True)`; the runner then forgets the earlier parts' keys."""

    cursor: Cursor | None = None
    checkpoint: Cursor | None = None
    scope: str | None = None
    resume: Cursor | None = None


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A declared stream: its cursor kind, what its deletions remove, and how keys are made."""

    name: str
    cursor: CursorKind
    deletes: str = "actual"  # one of ledger.records.DELETION_KINDS
    external_id: str = "<Id>"
    counts: str = ""  # which source states count as actuals
    scopes: tuple[str, ...] = ()  # scope kinds a re-sync may ask for: "project", "period"
    #: Streams whose records this stream's records point to (budgets -> projects): a run that
    #: reads both reads those first, whatever else the runner's order says.
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.deletes not in DELETION_KINDS:
            raise ValueError(
                f"stream {self.name}: deletes must be one of {', '.join(DELETION_KINDS)}"
            )


def fingerprint(data: Any) -> str:
    """A short stable digest of JSON-able `data` (keys sorted): 16 hex digits of SHA-256."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ConnectorSettings(BaseModel):
    """Base of every kind's settings model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class SourceTotal:
    """A source's own aggregate of one stream's counting rows for one project and currency
    (`pmo-ledger verify` compares it with the ledger's; `ledger.control_totals`).

    An actual stream: `count` rows, the sum of their `amount`s and, where the source states
    hours, the sum of their `hours` (None: the stream has no hours; a row without hours adds
    0). A budget stream (`StreamSpec.deletes == "budget"`): the project's current budget, the
    rows that make up the version it is loaded as (`kind = "current"`): `count` budget rows,
    `amount` their sum (compared as the measure `budget`), `hours` the budgeted hours where
    the source states them. `project_ref` is the key the stream's records name the project by.
    `period` ('YYYY-PP', optional): an actual stream's figures of that fiscal period only;
    verify adds a source's periods up per project and currency, and also compares each period
    with the ledger's lines of it (SAP's totals are kept by period).
    """

    project_ref: str | None
    currency: str | None
    count: int
    amount: Decimal
    hours: Decimal | None = None
    period: str | None = None


@dataclass(frozen=True)
class Allowance:
    """A source's metered API allowance as last seen: requests used of the limit (Salesforce:
    the rolling 24-hour `DailyApiRequests`)."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """How a kind's local stand-in should run (`pmo-ledger sandbox` options). `page_size`:
    most records per page (None: the kind's default); `cert_dir`: where to keep its TLS files
    (made once, reused; None: a temporary directory); `dirty`: add records a connector must
    reject or survive; `live`: a person points a connector at it now, so its clock starts no
    earlier than the wall clock (the source's time windows fall inside it)."""

    host: str = "127.0.0.1"
    port: int = 0
    page_size: int | None = None
    cert_dir: Path | None = None
    dirty: bool = False
    live: bool = False
    #: Seconds each call waits before it is answered (a real source's round trip; benchmarks).
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A running stand-in: the `settings` that read it (what a person pastes under
    `[connectors.<table>]`, `kind` aside) and `lines` that describe it to a person (where it
    listens, its users and files)."""

    settings: Mapping[str, Any]
    table: str
    lines: Sequence[str] = ()


@dataclass
class ConnectorContext:
    """What every connector gets besides its own settings: its name, the source-call timeouts
    and the ledger's fiscal calendar (to place source dates in periods).

    `known_projects`, filled by the sync runner (None outside a run: a connector built alone
    cannot tell), is the one read-only look at the ledger a connector gets: given the project
    codes of this source, it returns those a ledger project takes (the projects authority's
    own, a project link or cost object map of this source, a `[[ledger.link_rules]]` match).
    A connector whose unit of input must load whole (an Excel file) asks it before yielding."""

    name: str
    connect_timeout: timedelta = timedelta(seconds=10)
    read_timeout: timedelta = timedelta(seconds=120)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    extra: dict[str, Any] = field(default_factory=dict)
    known_projects: Callable[[Iterable[str]], set[str]] | None = None


class Connector(ABC):
    """Base class of a connector kind. Subclasses set `kind`, `settings_model` and `streams`."""

    kind: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    #: Declared streams (a class attribute; an instance may narrow it to its enabled ones).
    streams: Mapping[str, StreamSpec]
    #: A minimal settings table that builds the connector (the contract test uses it).
    example_settings: ClassVar[Mapping[str, Any]] = {}
    #: Whether `control_totals` counts lines at zero (a reversal brought them there): verify
    #: counts the ledger's lines the same way. SAP's totals list no such line.
    counts_zero_lines: ClassVar[bool] = True
    #: Whether the runner may fetch this kind's next pages in a producer thread while it writes
    #: a batch (`[ledger] prefetch_pages`, jobs/prefetch.py), and open the next stream's read
    #: while it writes the last batch of the stream before (jobs/sync.py, `_read_ahead`):
    #: `extract` mostly waits on a remote source, runs whole in one thread other than the
    #: runner's (one read at a time uses the connector), and does nothing that must come after
    #: the runner's commit of the page, or the stream, before (it reads nothing of the ledger:
    #: no `known_projects`). A generator in the caller's own thread, the default, is read in
    #: turn.
    reads_ahead: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    @abstractmethod
    def check(self) -> None:
        """A cheap authenticated call; raises a ConnectorError when the source cannot be read."""

    @abstractmethod
    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream` from `request`. Raises ConnectorError for the whole read only."""

    def stream_fingerprint(self, stream: str) -> str | None:
        """What the stream reads, as configured (e.g. the source object). When it changes, the
        runner retires the old stream: it reads the stream in full as one scope and reverses
        the old lines that the new read does not list. None: the stream cannot change."""
        return None

    def read_fingerprint(self, stream: str) -> str | None:
        """What decides which rows a full read of the stream lists and how they become
        records (its query's object, fields and conditions, the counting rule), as configured.
        The runner keeps it with a cut-off full read's `resume` and starts that read over when
        it differs: the parts of one read must list by the same rule. This default covers
        every setting of the connector (any change starts over: slower, never wrong); a
        connector that sets `Page.resume` narrows it to what its reads depend on."""
        return fingerprint(self.settings.model_dump(mode="json"))

    @classmethod
    def sandbox(
        cls, options: SandboxOptions | None = None
    ) -> AbstractContextManager[Sandbox] | None:
        """A local stand-in for the source, if the kind ships one: a context manager that runs
        it (in the background) and yields the `Sandbox` (settings that read it). `pmo-ledger
        sandbox --kind` serves it; the contract test reads every kind through it. The stand-in
        lives in its own module, imported by this method only, so the connector's read path
        never loads it. None: the kind's `example_settings` read a source that needs no
        server."""
        return None

    def control_totals(self, stream: str) -> Sequence[SourceTotal] | None:
        """The source's count, amount (a budget stream: budget) and hours per project and
        currency of the stream's counting rows (see `SourceTotal`), or None when the connector
        cannot aggregate this stream at the source."""
        return None

    def api_allowance(self) -> Allowance | None:
        """The source's API allowance as this connector's last call saw it; None when the
        source does not meter calls or no call was made yet."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions and sockets."""
