"""The demo portfolio: batches of records from a JSON file, applied through the writer.

The file (`config/demo_portfolio.json`) lists batches in the order a sync would bring them:
`{"source", "stream", "type", "records": [...]}`, where `type` names a record class of
`ledger.records` and each record is that class's fields, amounts as strings (exact
decimals) and dates ISO. `load_demo` applies every batch in the caller's transaction; the
writer's exactly-once rule makes a second load change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from sqlalchemy.orm import Session

from pmo_ledger.ledger.records import Record, record_from_json
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write import ApplyStats, apply_batch

#: The sample portfolio shipped with the code.
DEMO_PORTFOLIO = "demo_portfolio.json"


class DemoDataError(ValueError):
    """The portfolio file cannot be read or names something the ledger does not know."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One (source, stream) batch of the portfolio."""

    source: str
    stream: str
    records: tuple[Record, ...]


@dataclass
class DemoLoad:
    """What loading the portfolio did, summed over the batches."""

    batches: int = 0
    stats: ApplyStats = field(default_factory=ApplyStats)
    sources: list[str] = field(default_factory=list)


def default_portfolio() -> Path:
    """The sample portfolio file of the `config` package."""
    return Path(str(files("pmo_ledger.config") / DEMO_PORTFOLIO))


def read_portfolio(path: Path) -> list[Batch]:
    """The batches of a portfolio file. Raises DemoDataError naming the file and batch."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DemoDataError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise DemoDataError(f"{path}: line {exc.lineno}: {exc.msg}") from None
    batches: list[Batch] = []
    for i, raw in enumerate(data.get("batches", []) if isinstance(data, dict) else []):
        where = f"{path}: batches[{i}]"
        try:
            records = tuple(
                record_from_json({"type": raw["type"], "data": r}) for r in raw["records"]
            )
            batches.append(Batch(raw["source"], raw["stream"], records))
        except KeyError as exc:
            raise DemoDataError(f"{where}: missing {exc.args[0]!r}") from None
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise DemoDataError(f"{where}: {' '.join(str(exc).split())}") from None
    if not batches:
        raise DemoDataError(f"{path}: no batches")
    return batches


def sources_of(batches: Sequence[Batch]) -> list[str]:
    """The connector names the batches come from (not the manual rate source)."""
    return sorted({b.source for b in batches} - {"manual"})


def load_demo(session: Session, settings: LedgerSettings, batches: Sequence[Batch]) -> DemoLoad:
    """Apply every batch through `apply_batch`; never commits."""
    done = DemoLoad(sources=sources_of(batches))
    for batch in batches:
        result = apply_batch(session, settings, batch.source, batch.stream, batch.records)
        done.batches += 1
        done.stats.add(result.stats)
    return done
