"""The PSA's timecards as the demo's Workfront hours: what a PMO sees when people log their
hours in Workfront and an interface carries them to the PSA.

`PsaWorld` names the sample PSA of config/demo.toml (`[connectors.psa]`: seed 42, 6 projects,
3000 actuals; keep the two the same). `psa_timecards` reads its labor lines (the sample's
generator, imported here only: it is a demo stand-in like this one) with the sample's own
monthly corporate rates, the rates the demo's ledger converts with. `seed_demo(psa=...)`
turns every line into an approved HOUR of the same person (a USER per sample resource), day
and hours, with `actualCost` its amount in the Workfront project's currency (`in_currency`):
the ledger converts both to its base currency at the same rate and finds the same amount,
to a cent per line.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

#: The currency of a Workfront project whose `currency` is null: the connector's
#: `default_currency` by default, and the demo ledger's base currency.
ACCOUNT_CURRENCY = "USD"
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PsaWorld:
    """The sample PSA whose timecards the Workfront hours mirror (its `SampleSettings`)."""

    seed: int = 42
    projects: int = 6
    actuals: int = 3000


#: The PSA of config/demo.toml.
DEMO_PSA = PsaWorld()


@dataclass(frozen=True, slots=True)
class Person:
    """A sample resource: who logs the hours."""

    key: str  # RES-0001
    name: str
    email: str
    role: str
    active: bool


@dataclass(frozen=True, slots=True)
class Timecard:
    """One labor line of the PSA."""

    line: str  # ACT-000000001
    project: str  # PRJ-0001
    person: str  # RES-0001
    day: date
    hours: Decimal
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Rates:
    """The PSA's corporate rates to USD: currency -> (valid_from dates, rates), ascending."""

    series: dict[str, tuple[list[date], list[Decimal]]]
    status_date: date  # the PSA world's last day: no line is later

    def to_usd(self, currency: str, day: date) -> Decimal:
        if currency == ACCOUNT_CURRENCY:
            return Decimal(1)
        days, rates = self.series[currency]
        i = bisect_right(days, day) - 1
        if i < 0:
            raise LookupError(f"the PSA has no {currency} rate on {day}")
        return rates[i]


def in_currency(amount: Decimal, currency: str, to: str, day: date, rates: Rates) -> Decimal:
    """`amount` in `currency` re-expressed in `to` at the PSA's rates of `day`, to the cent:
    converted to USD at those rates, both give the same amount (to a cent)."""
    if currency == to:
        return amount
    usd = amount * rates.to_usd(currency, day)
    return (usd / rates.to_usd(to, day)).quantize(_CENT, rounding=ROUND_HALF_UP)


def psa_timecards(world: PsaWorld) -> tuple[list[Person], list[Timecard], Rates]:
    """The PSA's people (by resource index), labor lines (in line order) and rates."""
    from pmo_ledger.connectors.sample.actuals import ActualLines
    from pmo_ledger.connectors.sample.settings import SampleSettings
    from pmo_ledger.connectors.sample.streams import Structure
    from pmo_ledger.connectors.sample.world import World
    from pmo_ledger.ledger.records import FxRateRecord

    sample = World(SampleSettings(seed=world.seed, projects=world.projects, actuals=world.actuals))
    if sample.settings.base_currency != ACCOUNT_CURRENCY:
        raise ValueError(f"the PSA's base currency is not {ACCOUNT_CURRENCY}")
    people = [Person(r.key, r.name, r.email, r.role, r.active) for r in sample.resources]
    lines = ActualLines(sample)
    cards: list[Timecard] = []
    for i in range(world.actuals):
        line = lines.line(i, 0, 0, 0, sample.e0)
        if line.cost_type != "labor":
            continue
        project, person, hours = line.project_ref, line.resource_ref, line.hours
        amount, currency = line.amount, line.currency
        if project is None or person is None or hours is None or amount is None or not currency:
            raise ValueError(f"the PSA's labor line {line.external_id} is incomplete")
        cards.append(Timecard(line.external_id, project, person, line.posted_on, hours,
                              amount, currency))  # fmt: skip
    fx = Structure(sample).tables()["fx_rates"]
    points: dict[str, list[tuple[date, Decimal]]] = {}
    for i in range(fx.size):
        rate = fx.make(i, sample.e0)
        if not isinstance(rate, FxRateRecord) or rate.to_ccy != ACCOUNT_CURRENCY:
            continue
        points.setdefault(rate.from_ccy, []).append((rate.valid_from, rate.rate))
    series = {c: ([d for d, _ in p], [r for _, r in p]) for c, p in points.items()}
    for days, _ in series.values():
        if days != sorted(days):
            raise ValueError("the PSA's rates are not in date order")
    return people, cards, Rates(series, sample.status_date)
