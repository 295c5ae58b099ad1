"""The ledger's time: the fiscal calendar, its periods and the dates sources give.

- `calendar`: fiscal periods generated from `[ledger.calendar]` (or a calendar file), period
  keys 'YYYY-PP' and their parsing (rule 10); no database;
- `dates`: the business date a source meant and technical timestamps in UTC; no database;
- `periods`: the periods kept in the `fiscal_period` table (PeriodIndex, ensure_periods).

This `__init__` imports nothing, so a connector that parses periods or dates loads no
SQLAlchemy.
"""
