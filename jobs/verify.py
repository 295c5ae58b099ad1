"""`verify`: compare a connector's source aggregates with the ledger, per stream, project,
currency and measure (count, amount, hours; budget on a budget stream), and store the figures
in `control_total` (the latest drift shows in `v_sync_health`).

The source is asked first (outside any ledger transaction: it may take a while), then the
ledger is read and the figures stored in one transaction with one `checked_at`. A sync running
at the same time can show as drift; run verify again after it.

A stream the source cannot total (its settings refused: StreamConfigError, a field or object
the org lacks; its query failed: SourceError; or timed out or was limited:
ConnectorTransientError) is not checked, with the error, and the other streams are: verify
checks what it can. A connector-wide error (login, TLS, bad settings) stops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Connector, SourceTotal
from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.ledger.control_totals import (
    Drift,
    Figures,
    budget_totals,
    compare,
    ledger_totals,
    ledger_totals_by_period,
    project_codes,
    record,
)

log = structlog.get_logger(__name__)


@dataclass
class StreamCheck:
    """One stream's check: its groups, or why it was not checked (`skipped`: it has no
    source totals; `error`: the source could not total it)."""

    stream: str
    drifts: list[Drift] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    #: (period, drift) of the groups that drift within a period, when the source states its
    #: figures by period (SourceTotal.period); not stored (control_total has no period).
    period_drifts: list[tuple[str, Drift]] = field(default_factory=list)

    @property
    def drifted(self) -> list[Drift]:
        return [d for d in self.drifts if d.drifted]

    @property
    def measures(self) -> list[str]:
        """The measures compared, in order (count, amount or budget, hours)."""
        seen = [m.name for d in self.drifts for m in d.measures]
        return list(dict.fromkeys(seen))

    @property
    def drifted_measures(self) -> list[str]:
        """The measures that drift in some group, in order."""
        seen = [m.name for d in self.drifts for m in d.drifted_measures]
        return list(dict.fromkeys(seen))


@dataclass
class VerifyResult:
    connector: str
    checked_at: datetime
    streams: list[StreamCheck] = field(default_factory=list)
    #: Ledger project codes of the source's project keys (for display).
    codes: dict[str, str] = field(default_factory=dict)

    @property
    def drift(self) -> bool:
        return any(s.drifted or s.period_drifts for s in self.streams)

    @property
    def failed(self) -> list[StreamCheck]:
        """The streams the source could not total."""
        return [s for s in self.streams if s.error]


def verify(
    app: App, name: str, streams: list[str] | None = None, *, connector: Connector | None = None
) -> VerifyResult:
    """Check connector `name`'s streams (all that can aggregate at the source, or `streams`).
    Raises ConnectorConfigError for an unknown connector or stream, and the connector's errors
    when the source cannot be read at all; a stream the source cannot total (StreamConfigError,
    SourceError, ConnectorTransientError) is reported in its StreamCheck and the others are
    checked."""
    conn = connector or app.connector(name)
    try:
        wanted = streams or list(conn.streams)
        unknown = [s for s in wanted if s not in conn.streams]
        if unknown:
            raise ConnectorConfigError(
                f"connector {name} has no stream {', '.join(unknown)} "
                f"(streams: {', '.join(conn.streams)})"
            )
        source_side: dict[str, Sequence[SourceTotal] | None] = {}
        refused: dict[str, str] = {}
        for s in wanted:
            try:
                source_side[s] = conn.control_totals(s)
            except (StreamConfigError, SourceError, ConnectorTransientError) as exc:
                refused[s] = str(exc)
                log.warning("verify_stream_refused", connector=name, stream=s, error=str(exc))
        budgets = {s for s in wanted if conn.streams[s].deletes == "budget"}
        count_zero = conn.counts_zero_lines
    finally:
        if connector is None:
            conn.close()
    result = VerifyResult(name, datetime.now(UTC))
    app.require_head()
    with app.transaction() as session:
        for stream in wanted:
            if stream in refused:
                result.streams.append(StreamCheck(stream, error=refused[stream]))
                continue
            totals = source_side[stream]
            if totals is None:
                result.streams.append(StreamCheck(stream, skipped="no source aggregates"))
                continue
            budget = stream in budgets
            drifts = compare(
                (
                    ((t.project_ref, t.currency), Figures(t.count, t.amount, t.hours))
                    for t in totals
                ),
                budget_totals(session, name, stream)
                if budget
                else ledger_totals(session, name, stream, count_zero=count_zero),
                "budget" if budget else "amount",
            )
            record(session, name, stream, drifts, result.checked_at)
            result.codes.update(project_codes(session, name, {d.project_ref for d in drifts}))
            check = StreamCheck(stream, drifts)
            if not budget and any(t.period is not None for t in totals):
                check.period_drifts = _period_drifts(session, name, stream, totals, count_zero)
            result.streams.append(check)
            log.info(
                "verify_stream",
                connector=name,
                stream=stream,
                groups=len(drifts),
                drifted=len(check.drifted),
                measures=check.measures,
                drifted_measures=check.drifted_measures,
            )
    return result


def _period_drifts(
    session: Session, name: str, stream: str, totals: Sequence[SourceTotal], count_zero: bool
) -> list[tuple[str, Drift]]:
    """The groups that drift within a period: the source's figures of each period against
    the ledger's lines of that period."""
    ledger = ledger_totals_by_period(session, name, stream, count_zero=count_zero)
    periods = {t.period for t in totals if t.period} | {k[2] for k in ledger if k[2]}
    out: list[tuple[str, Drift]] = []
    for period in sorted(p for p in periods if p):
        source = (
            ((t.project_ref, t.currency), Figures(t.count, t.amount, t.hours))
            for t in totals
            if t.period == period
        )
        theirs = {(k[0], k[1]): f for k, f in ledger.items() if k[2] == period}
        out += [(period, d) for d in compare(source, theirs) if d.drifted]
    return out
