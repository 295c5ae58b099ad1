"""What an org's `describe` says about an object's fields, and which part of a field path it
does not list.

Before a stream's first query the reader describes the object it reads
(`GET sobjects/<Object>/describe`, one call per object per connector run: the client caches
it) and checks each role's field path against it. A path `Lookup__r.Field__c` is checked hop
by hop: the lookup is the field whose `relationshipName` is `Lookup__r`, and the rest of the
path is checked against the object its `referenceTo` names (described too). A polymorphic
lookup (more than one `referenceTo`, e.g. `Owner`) is not followed: the query decides.
Names compare without case, as SOQL does. Fields the integration user cannot see (field-level
security) are not in `describe` either, and a query naming them fails the same way
(INVALID_FIELD), so "not listed" covers both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Described:
    """One object's `describe`: its field names and its lookups' targets (all casefolded
    keys; `names` keeps the org's spelling for messages)."""

    name: str
    names: Mapping[str, str]
    lookups: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, reply: Mapping[str, Any]) -> Described:
        """From the JSON of `sobjects/<Object>/describe` (`name`, `fields[].name`,
        `fields[].relationshipName`, `fields[].referenceTo`). Raises ValueError when the reply
        has no `fields` list."""
        fields = reply.get("fields")
        if not isinstance(fields, list):
            raise ValueError("the describe reply has no fields list")
        names: dict[str, str] = {}
        lookups: dict[str, tuple[str, ...]] = {}
        for f in fields:
            if not isinstance(f, Mapping) or not f.get("name"):
                continue
            names[str(f["name"]).casefold()] = str(f["name"])
            relationship = f.get("relationshipName")
            if relationship:
                lookups[str(relationship).casefold()] = tuple(
                    str(t) for t in f.get("referenceTo") or ()
                )
        return cls(str(reply.get("name") or ""), names, lookups)

    def has(self, field: str) -> bool:
        return field.casefold() in self.names


Describe = Callable[[str], "Described | None"]


def missing_part(describe: Describe, sobject: str, path: str) -> str | None:
    """The first part of `path` (read from `sobject`) that the org does not list, as
    `Object.Part`; None when every part is listed or cannot be checked. `describe(name)`
    answers None for an object the org does not have."""
    described = describe(sobject)
    if described is None:
        return f"{sobject}"
    head, _, rest = path.partition(".")
    if not rest:
        return None if described.has(head) else f"{sobject}.{head}"
    targets = described.lookups.get(head.casefold())
    if targets is None:
        return f"{sobject}.{head}"
    if len(targets) != 1:
        return None  # polymorphic: which object answers depends on the row
    return missing_part(describe, targets[0], rest)
