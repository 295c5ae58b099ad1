"""`python -m jobs.cli`: the same as the `pmo-ledger` console script."""

from jobs.cli import main

main()
