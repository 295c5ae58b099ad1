"""The project ledger: models, money types, records, the writer, FX, periods and views."""
