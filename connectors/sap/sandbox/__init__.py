"""The fake SAP system (issue 21, item 6): SAP-shaped PS/CO tables in SQLite (`system`,
`tables`, `seed`, `postings`), read through a drop-in for pyrfc (`fakerfc`: RFC_READ_TABLE)
and through S/4HANA OData V2 services on HTTPS (`odata`); `run.running()` serves both for
`pmo-ledger sandbox --kind sap`."""
