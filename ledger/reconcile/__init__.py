"""Reconciliation: rules that compare budgets, forecasts, hours and sources and turn what they
find into variances (DESIGN.md, Reconciliation; issue 5).

`reconcile(session, settings, rules, ...)` runs the enabled rules against the ledger as it is
(or as known at a past time, read-only), gathers their findings in a stage and, for a live
run, writes them through the variance lifecycle (`store`). Each rule is a function of a
`RuleContext` built on set-based SQL: the rules with many findings return them rendered in
SQL (`rendered.Rendered`), the others as `Finding`s; see `budget_rules`, `evm_rules`,
`resource_rules`, `quality_rules`.

The package loads `run` (and with it SQLAlchemy and the rules) on first use of a name it
exports: the configuration imports `ledger.reconcile.settings` without it (CLI start-up,
issue 18 item 7).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmo_ledger.ledger.reconcile.run import ReconcileResult, reconcile

__all__ = ["ReconcileResult", "reconcile"]


def __getattr__(name: str) -> Any:
    """`reconcile`, `ReconcileResult` and the rest of `run`, loaded on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("pmo_ledger.ledger.reconcile.run"), name)
