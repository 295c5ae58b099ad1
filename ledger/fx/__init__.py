"""Exchange rates: how they are held, checked and imported.

- `rates`: the rate tables and their lookups (RateBook, upsert_rates, rule 6);
- `checks`: what a rate must be before it is stored (8 places, a sane valid_from);
- `file_import`: `pmo-ledger fx import FILE.csv`, applied through the writer.

This `__init__` imports nothing: importing the package loads no database code.
"""
