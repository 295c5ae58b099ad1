"""The sample's schedule links beyond its finish-to-start chain: each project also gets a
finish-to-finish, a start-to-finish and a lead (a negative lag), so that every link type a
scheduler knows reaches the ledger and `pmo-ledger plan` has ties and float to show.

Per project, after the seven links of `streams.LINKS` (`<project>.D01`..`D07`):

- `D08` Development FF Integration, lag 0: integration finishes when development does (with
  the SS link, Development then drives Integration at both ends: a tie on the critical path);
- `D09` Testing SF Go-live, lag 1-3 working days: go-live cannot finish before testing has run
  that long (float: the FS chain already places it later);
- `D10` Requirements FS Development, a lead of 1-5 working days: development may start before
  the requirements are signed off (float: the solution design drives it).

The lags are drawn from a `random.Random` of its own, seeded from the world's seed and the
project, so the existing streams' figures and draws stay as they were and record i is still a
pure function of (settings, i).
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from pmo_ledger.connectors.sample.streams import LINKS, Structure, Table
from pmo_ledger.ledger.records import DependencyRecord

#: (predecessor leaf, successor leaf, type) of the extra links; leaves are numbered 0..7.
EXTRA_LINKS = ((4, 5, "FF"), (6, 7, "SF"), (2, 4, "FS"))
LINKS_PER_PROJECT = len(LINKS) + len(EXTRA_LINKS)


def _lags(seed: int, project: int) -> tuple[int, int, int]:
    """The extra links' lags of one project, in working days."""
    rng = random.Random(f"pmo-ledger-sample-schedule/{seed}/{project}")  # noqa: S311 - a sample
    return 0, rng.randint(1, 3), -rng.randint(1, 5)


class ScheduleLinks:
    """The dependencies stream: the chain's records first, then every project's extra links."""

    def __init__(self, structure: Structure, chain: Table) -> None:
        self.structure = structure
        self.chain = chain

    def table(self) -> Table:
        extra = len(self.structure.w.projects) * len(EXTRA_LINKS)
        return Table(self.chain.size + extra, self.make)

    def make(self, i: int, at: datetime) -> DependencyRecord:
        if i < self.chain.size:
            record = self.chain.make(i, at)
            assert isinstance(record, DependencyRecord)
            return record
        w = self.structure.w
        proj, n = divmod(i - self.chain.size, len(EXTRA_LINKS))
        p = w.projects[proj]
        before, after, kind = EXTRA_LINKS[n]
        slot = self.structure.leaf_slot
        return DependencyRecord(
            external_id=f"{p.key}.D{len(LINKS) + n + 1:02d}",
            predecessor_ref=self.structure.task_key(p, slot(before)),
            successor_ref=self.structure.task_key(p, slot(after)),
            dependency_type=kind,  # type: ignore[arg-type]
            lag_days=Decimal(_lags(w.settings.seed, proj)[n]).quantize(Decimal("0.01")),
            source_modified_at=at,
        )
