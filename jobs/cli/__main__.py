"""`python -m pmo_ledger.jobs.cli`: the same as the `pmo-ledger` console script."""

from pmo_ledger.jobs.cli import main

main()
