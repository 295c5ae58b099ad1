"""`pmo-ledger demo`: upgrade the database, load the sample portfolio in one transaction and
print budget vs actual per project, what waits unmapped and what does not count.

The portfolio comes from two sources (config/demo.toml names them): `psa` creates projects
and owns labor, hours and budgets; `erp` owns expenses. Loading twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.cli.common import app_of, out, plural, reported
from pmo_ledger.jobs.cli.format import counts, parked_line
from pmo_ledger.jobs.cli.report import print_budget_report
from pmo_ledger.jobs.demo import DemoLoad, default_portfolio, load_demo, read_portfolio, sources_of
from pmo_ledger.ledger.queries.reports import budget_report


def demo(
    ctx: typer.Context,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio", help="Portfolio file (default: the bundled sample).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Load a sample portfolio (PSA + ERP) and print budget vs actual."""
    from pmo_ledger.ledger import migrate  # alembic only when the command runs

    app = app_of(ctx)
    with reported(app):
        batches = read_portfolio(portfolio or default_portfolio())
        missing = [s for s in sources_of(batches) if s not in app.config.connectors]
        if missing:
            raise ValueError(
                f"the demo loads data of {', '.join(missing)}: configure "
                f"{' and '.join(f'[connectors.{m}]' for m in missing)} (see config/demo.toml)"
            )
        migrate.upgrade(app.engine)
        with app.transaction() as session:
            loaded = load_demo(session, app.settings, batches)
        with app.reading() as session:
            report = budget_report(session)
    _print_load(app, loaded)
    print_budget_report(app, report)


def _print_load(app: App, loaded: DemoLoad) -> None:
    out(
        f"Loaded the sample portfolio into {app.url} from {', '.join(loaded.sources)} "
        f"({plural(loaded.batches, 'batch', 'batches')}):"
    )
    read, new, changed, same, held, other, _ = counts(loaded.stats)
    out(
        f"{read:,} records read = {new:,} new + {changed:,} changed + {same:,} same"
        f" + {held:,} held + {other:,} other"
    )
    if loaded.stats.parked:
        out(parked_line(loaded.stats.parked))
