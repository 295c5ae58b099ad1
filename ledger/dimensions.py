"""The writer's entry points for everything that is not money: structure, resources, progress.

Each `apply_*` has the shape `apply_x(ctx, stream, records, deletions, *, held) -> ApplyStats`:
it takes the batch's WriteContext, writes set-based on ctx.session and never commits, appends
what cannot load to `held` (the writer stores it in quarantine) and resolves the quarantine
entries of keys that loaded or were deleted. Replaying a batch writes nothing.

- projects, portfolios, programs, project links: `ledger.structure_writer`
- tasks and dependencies: `ledger.task_writer`
- resources, cost rates, capacity, allocations: `ledger.resource_writer`
- percent complete snapshots: `ledger.progress_writer`
"""

from __future__ import annotations

from pmo_ledger.ledger.progress_writer import Progress, append_progress, apply_progress
from pmo_ledger.ledger.resource_writer import (
    apply_allocations,
    apply_capacity,
    apply_resource_rates,
    apply_resources,
)
from pmo_ledger.ledger.structure_writer import apply_projects
from pmo_ledger.ledger.task_writer import apply_dependencies, apply_tasks

__all__ = [
    "Progress",
    "append_progress",
    "apply_allocations",
    "apply_capacity",
    "apply_dependencies",
    "apply_progress",
    "apply_projects",
    "apply_resource_rates",
    "apply_resources",
    "apply_tasks",
]
