"""Cost elements (CO: KSTAR; S/4 OData: GLAccount) as the ledger's cost types.

`[connectors.<name>.cost_types]` maps a cost type to cost elements, each a number or an
inclusive range (`travel = ["474000-474999"]`, `software = ["476000", "476100"]`), compared as
numbers with SAP's leading zeros ignored (`0000474000` is 474000); an alphanumeric cost element
is compared as text, a range of them by text order. The first cost type (in the table's order)
whose list holds the element wins. An element no list holds keeps the label it always had,
`KSTAR <number>` (leading zeros dropped), so an unmapped source reads as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Key = tuple[int, int, str]


def _key(element: str) -> Key:
    """A sortable key: numbers by value (leading zeros ignored), the rest as text after them."""
    text = element.strip()
    return (0, int(text), "") if text.isdigit() else (1, 0, text.upper())


def parse_ranges(given: Sequence[str]) -> list[tuple[Key, Key]]:
    """`["474000-474999", "476000"]` -> inclusive (low, high) keys. Raises ValueError for an
    empty entry or a range whose low end is above its high end."""
    out = []
    for entry in given:
        low, sep, high = entry.strip().partition("-")
        if not low.strip() or (sep and not high.strip()):
            raise ValueError(f"a cost element or range like 474000-474999, got {entry!r}")
        lo, hi = _key(low), _key(high if sep else low)
        if lo[0] != hi[0] or lo > hi:
            raise ValueError(f"range {entry!r} ends before it starts")
        out.append((lo, hi))
    return out


@dataclass(frozen=True)
class CostTypes:
    """The configured mapping (see the module docstring)."""

    mapping: Mapping[str, Sequence[str]] = field(default_factory=dict)
    _ranges: list[tuple[str, tuple[Key, Key]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ranges = [(name, r) for name, given in self.mapping.items() for r in parse_ranges(given)]
        object.__setattr__(self, "_ranges", ranges)

    def of(self, element: str) -> str:
        """The cost type of a cost element (KSTAR / GLAccount)."""
        key = _key(element)
        for name, (lo, hi) in self._ranges:
            if lo <= key <= hi:
                return name
        return f"KSTAR {element.lstrip('0') or element}"
