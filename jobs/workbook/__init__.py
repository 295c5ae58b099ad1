"""The Excel status workbook (`pmo-ledger report --format xlsx`): one module per sheet, written
with XlsxWriter from what `ledger.queries.status` reads (docs/reports.md says what each sheet
shows). `book.write_workbook` is the entry point."""
