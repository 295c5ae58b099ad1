"""Read-side SQL, written once for every reader: the CLI formats these rows for people, the
HTTP API serializes them with its schemas, `/metrics` and the scheduler count with them.

Each function takes a Session and returns plain typed rows (frozen dataclasses or
NamedTuples; money as Decimal, timestamps UTC-aware), never ORM objects:

- `runs`: sync runs listed with their stream totals, one run with its streams, when a
  connector last ran;
- `variances`: variances filtered and in listing order (most severe, newest first);
- `reports`: budget vs actual per project and the lines the authority keeps from counting;
- `mappings`: project links, cost object maps, the keys still unmapped, where a key is mapped;
- `quarantine`, `fx`: quarantine entries and stored exchange rates;
- `metrics`: the ledger's figures `/metrics` reports.

Commands and handlers (jobs/cli, jobs/service) hold no SQL: a guard test scans them.
"""
