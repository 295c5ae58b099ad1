"""`pmo-ledger fx import FILE.csv`: rates from a CSV file, applied through the writer.

Columns: from_ccy,to_ccy,valid_from,rate[,rate_type]. Rates land under the source `manual`
(put "manual" in `[ledger] rate_sources` to use them) and convert waiting lines like any
source's rates.

A file is imported whole or not at all. Every row is checked first (ledger.fx.checks: a rate
the ledger's 8 places cannot hold, a rate of 10^10 or more, a valid_from outside the sane
range; here: a rate from a currency to itself other than 1, and two different rates for the
same key, rate type, currencies and valid_from), and the first bad one refuses the file, naming
its line (both lines for a key given two rates). The same rate twice for a key is one rate: the
repeat is skipped and counted. Then the rows are
applied in one savepoint; a row the database refuses (the writer would hold it in quarantine
and apply the others) rolls the savepoint back and refuses the file naming that row, on both
engines.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.orm import Session

from pmo_ledger.ledger.fx.checks import rate_record_problem
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.records import FxRateRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.time.dates import business_date
from pmo_ledger.ledger.write import BatchResult, apply_batch

MANUAL_SOURCE = "manual"
#: The stream the writer records imported rates under.
IMPORT_STREAM = "fx_import"


class FxFileError(ValueError):
    """A rate file that cannot be read or imported; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class FxRow:
    """One rate of the file and the line it is on."""

    line: int
    record: FxRateRecord


@dataclass(frozen=True, slots=True)
class FxImport:
    """What importing a file did."""

    rates: int
    result: BatchResult
    #: Rows that gave a key the same rate as an earlier row: skipped.
    repeated: int = 0


@dataclass(frozen=True, slots=True)
class FxFile:
    """The rates of a file, each key once, and how many repeated rows were skipped."""

    rows: list[FxRow]
    repeated: int


def read_fx_csv(path: Path, default_rate_type: str, today: date) -> FxFile:
    """Every rate of the file, or FxFileError naming the first bad line (nothing is applied).
    `today` bounds the valid_from dates (ledger.fx.checks.latest_rate_day)."""
    required = ("from_ccy", "to_ccy", "valid_from", "rate")
    rows: list[FxRow] = []
    seen: dict[str, tuple[int, str]] = {}  # key -> (line, the rate as written)
    repeated = 0
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FxFileError(f"{path}: {exc.strerror}") from exc
    with f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise FxFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            where = f"{path}: line {reader.line_num}"
            text = (row["rate"] or "").strip()
            try:
                rate = Decimal(text)
            except InvalidOperation:
                raise FxFileError(f"{where}: rate {row['rate']!r} is not a number") from None
            try:
                valid_from = business_date((row["valid_from"] or "").strip())
            except ValueError as exc:
                raise FxFileError(f"{where}: {exc}") from None
            record = FxRateRecord(
                from_ccy=(row["from_ccy"] or "").strip().upper(),
                to_ccy=(row["to_ccy"] or "").strip().upper(),
                valid_from=valid_from,
                rate=rate,
                rate_type=(row.get("rate_type") or "").strip() or default_rate_type,
            )
            problem = rate_record_problem(record, today, repr(text))
            if problem is not None:
                raise FxFileError(f"{where}: {problem[1]}")
            if record.from_ccy == record.to_ccy and rate != 1:
                raise FxFileError(
                    f"{where}: a rate from {record.from_ccy} to itself must be 1, got {text!r}"
                )
            earlier = seen.get(record.external_id)
            if earlier is not None:
                first_line, first_text = earlier
                if Decimal(first_text) != rate:
                    raise FxFileError(
                        f"{path}: lines {first_line} and {reader.line_num} give {_named(record)} "
                        f"two rates, {first_text!r} and {text!r}; nothing was imported"
                    )
                repeated += 1
                continue
            seen[record.external_id] = (reader.line_num, text)
            rows.append(FxRow(reader.line_num, record))
    return FxFile(rows, repeated)


def import_fx_csv(
    session: Session, settings: LedgerSettings, path: Path, *, now: datetime | None = None
) -> FxImport:
    """Check every row of `path`, then apply them all as source 'manual' in the caller's
    transaction (waiting and open-period lines are converted). Raises FxFileError naming the
    line of the first bad row, or of a row the database refused; then nothing of the file is
    in the session. Never commits."""
    at = now or utcnow()
    read = read_fx_csv(path, settings.rate_type, at.date())
    rows = read.rows
    by_key = {r.record.external_id: r for r in rows}
    savepoint = session.begin_nested()
    result = apply_batch(
        session, settings, MANUAL_SOURCE, IMPORT_STREAM, [r.record for r in rows], recorded_at=at
    )
    if result.held_items:
        savepoint.rollback()
        refused = [(by_key.get(h.external_id or ""), h) for h in result.held_items]
        row, held = min(refused, key=lambda pair: pair[0].line if pair[0] else 0)
        what = f"line {row.line}: " if row else ""
        named = _named(row.record) if row else "a rate"
        reason = (held.detail or held.reason).strip().splitlines()[0]
        raise FxFileError(
            f"{path}: {what}the database refused {named}: {reason}; nothing was imported"
        )
    savepoint.commit()
    return FxImport(len(rows), result, read.repeated)


def _named(record: FxRateRecord) -> str:
    return (
        f"the {record.rate_type} rate {record.from_ccy}/{record.to_ccy} "
        f"from {record.valid_from.isoformat()}"
    )
