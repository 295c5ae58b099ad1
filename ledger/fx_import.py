"""`pmo-ledger fx import FILE.csv`: rates from a CSV file, applied through the writer.

Columns: from_ccy,to_ccy,valid_from,rate[,rate_type]. Rates land under the source `manual`
(put "manual" in `[ledger] rate_sources` to use them) and convert waiting lines like any
source's rates.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ledger.currencies import is_currency
from ledger.dates import business_date
from ledger.records import FxRateRecord

MANUAL_SOURCE = "manual"


class FxFileError(ValueError):
    """A rate file that cannot be read; the message names the file and line."""


def read_fx_csv(path: Path, default_rate_type: str) -> list[FxRateRecord]:
    """Every rate of the file, or FxFileError naming the first bad line (nothing is applied)."""
    required = ("from_ccy", "to_ccy", "valid_from", "rate")
    records: list[FxRateRecord] = []
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
            src, dst = (
                (row["from_ccy"] or "").strip().upper(),
                (row["to_ccy"] or "").strip().upper(),
            )
            for code in (src, dst):
                if not is_currency(code):
                    raise FxFileError(f"{where}: unknown currency {code!r}")
            try:
                rate = Decimal((row["rate"] or "").strip())
            except InvalidOperation:
                raise FxFileError(f"{where}: rate {row['rate']!r} is not a number") from None
            if not rate.is_finite() or rate <= 0:
                raise FxFileError(f"{where}: rate must be positive, got {row['rate']!r}")
            try:
                valid_from = business_date((row["valid_from"] or "").strip())
            except ValueError as exc:
                raise FxFileError(f"{where}: {exc}") from None
            rate_type = (row.get("rate_type") or "").strip() or default_rate_type
            records.append(
                FxRateRecord(
                    from_ccy=src, to_ccy=dst, valid_from=valid_from, rate=rate, rate_type=rate_type
                )
            )
    return records
