"""Earned value figures from BAC, PV, EV and AC, with Decimal (DESIGN.md, Reconciliation).

Money is rounded half up to the cent only when shown (`rounded`); ratios to 4 places; a zero
denominator gives None (no figure, and so no finding). EAC has three common forecasts:

- `cpi` (default): BAC / CPI, the work left performs as the work done;
- `remaining_at_budget`: AC + (BAC - EV), the work left goes as planned;
- `cpi_spi`: AC + (BAC - EV) / (CPI x SPI), cost and schedule performance both persist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


def _div(a: Decimal, b: Decimal) -> Decimal | None:
    return None if b == 0 else a / b


@dataclass(frozen=True, slots=True)
class Evm:
    """One project's earned value at a status date (base currency)."""

    bac: Decimal
    pv: Decimal
    ev: Decimal
    ac: Decimal

    @property
    def cv(self) -> Decimal:
        return self.ev - self.ac

    @property
    def sv(self) -> Decimal:
        return self.ev - self.pv

    @property
    def cpi(self) -> Decimal | None:
        return _div(self.ev, self.ac)

    @property
    def spi(self) -> Decimal | None:
        return _div(self.ev, self.pv)

    def eac(self, method: str = "cpi") -> Decimal | None:
        """Estimate at completion by `method` (see the module docstring)."""
        if method == "remaining_at_budget":
            return self.ac + (self.bac - self.ev)
        cpi = self.cpi
        if method == "cpi":
            return None if cpi is None or cpi == 0 else self.bac / cpi
        if method == "cpi_spi":
            spi = self.spi
            if cpi is None or spi is None or cpi * spi == 0:
                return None
            return self.ac + (self.bac - self.ev) / (cpi * spi)
        raise ValueError(f"unknown EAC method {method!r}")

    def etc(self, method: str = "cpi") -> Decimal | None:
        eac = self.eac(method)
        return None if eac is None else eac - self.ac

    def vac(self, method: str = "cpi") -> Decimal | None:
        eac = self.eac(method)
        return None if eac is None else self.bac - eac

    @property
    def tcpi(self) -> Decimal | None:
        """The cost performance the remaining work needs to finish on budget."""
        return _div(self.bac - self.ev, self.bac - self.ac)

    def rounded(self, method: str = "cpi") -> dict[str, str | None]:
        """Every figure as text: money to the cent (half up), ratios to 4 places."""

        def m(v: Decimal | None) -> str | None:
            return None if v is None else str(v.quantize(CENT, ROUND_HALF_UP))

        def r(v: Decimal | None) -> str | None:
            return None if v is None else str(v.quantize(RATIO, ROUND_HALF_UP))

        return {
            "bac": m(self.bac),
            "pv": m(self.pv),
            "ev": m(self.ev),
            "ac": m(self.ac),
            "cv": m(self.cv),
            "sv": m(self.sv),
            "cpi": r(self.cpi),
            "spi": r(self.spi),
            "eac": m(self.eac(method)),
            "etc": m(self.etc(method)),
            "vac": m(self.vac(method)),
            "tcpi": r(self.tcpi),
            "eac_method": method,
        }
