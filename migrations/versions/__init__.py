"""Alembic revisions of the ledger schema, one module per revision (Alembic skips this file)."""
