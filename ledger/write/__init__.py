"""The write path's front door: everything outside the ledger writes through these names.

Per batch, the sync runner (jobs/sync.py) needs:

- `apply_batch(session, settings, source, stream, records, deletions, rejected, ...)` applies
  one batch of a (source, stream) and returns a `BatchResult` (its `ApplyStats`, the lines
  converted by new rates, what it held in quarantine). Keys it reads inside an open scope
  (`open_scopes=`) count as listed for that scope's end; `written=` (a `WrittenKeys` the
  runner keeps per stream read) spares a first load the lookup of keys it never wrote;
  `has_lines(session, source, stream)` says whether a stream holds any line yet.
- `end_scope(session, settings, source, stream, scope_key, ...)` applies a ScopeEnd: reverses
  the scope's live lines the source did not list, unless the mass-delete guard stops it.
- `store_checkpoint(session, source, stream, ...)` writes the stream's `sync_state`: its
  checkpoint, when it last read to its end, or where a cut-off full read continues.

and, for a scope's keys around those calls (the TEMP table `scope_seen` on the run's
connection, the table `scope_listed` across runs):

- `forget_scope(session, key)`: a scope opens, starts over or ended: its keys so far go;
- `forget_all_scopes(session)`: at a run's start and end (the connection is pooled);
- `save_listed` / `restore_listed`: keep a cut-off full read's keys for the next run, load
  them back when that run continues the read; `forget_resume` voids what it kept.

Other callers: `ApplyStats` (a run's counters), and the mapping operations of the CLI:
`Mapping`, `MappingCheck`, `MappingError`, `add_mappings`, `remove_mapping`,
`read_mapping_csv`, `match_rule`, `remap`, `remap_moves` (and its `Move`s).

Inside the package: `batch` (apply_batch, savepoint bisection), `record_writer` (the protocol
every non-money record type fills in, and its driver), one module per record type
(`structure`, `resources`, `tasks`, `progress`, `budgets`, `forecasts`, `actuals`), and their
parts (`context`, `keyed_rows`, `entries`, `budget_history`, `conversion`, `mapping`,
`valuation`, `hashing`, `scopes`, `checkpoint`, `stats`, `written_keys`).
docs/architecture.md, "Adding a record type", says how a new record type joins.
"""

from pmo_ledger.ledger.write.actuals import has_lines
from pmo_ledger.ledger.write.batch import BatchResult, apply_batch
from pmo_ledger.ledger.write.checkpoint import forget_resume, store_checkpoint
from pmo_ledger.ledger.write.mapping import (
    Mapping,
    MappingCheck,
    MappingError,
    Move,
    add_mappings,
    match_rule,
    read_mapping_csv,
    remap,
    remap_moves,
    remove_mapping,
)
from pmo_ledger.ledger.write.scopes import (
    end_scope,
    forget_all_scopes,
    forget_scope,
    restore_listed,
    save_listed,
)
from pmo_ledger.ledger.write.stats import ApplyStats
from pmo_ledger.ledger.write.written_keys import WrittenKeys

__all__ = [
    "ApplyStats",
    "BatchResult",
    "Mapping",
    "MappingCheck",
    "MappingError",
    "Move",
    "WrittenKeys",
    "add_mappings",
    "apply_batch",
    "end_scope",
    "forget_all_scopes",
    "forget_resume",
    "forget_scope",
    "has_lines",
    "match_rule",
    "read_mapping_csv",
    "remap",
    "remap_moves",
    "remove_mapping",
    "restore_listed",
    "save_listed",
    "store_checkpoint",
]
