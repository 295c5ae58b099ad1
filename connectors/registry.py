"""Connector kinds, found by entry points (group `pmo_ledger.connectors`); built-ins too."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from pmo_ledger.connectors.base import Connector, ConnectorContext
from pmo_ledger.connectors.errors import ConnectorConfigError

GROUP = "pmo_ledger.connectors"


def installed_kinds() -> dict[str, type[Connector]]:
    """kind -> connector class of every installed connector. Raises ConnectorConfigError when
    an entry point does not load or does not name a Connector."""
    kinds: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as exc:
            raise ConnectorConfigError(f"connector kind {ep.name!r} does not load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ConnectorConfigError(f"entry point {ep.name!r} is not a Connector class")
        kinds[ep.name] = cls
    return kinds


def build_connector(
    name: str, kind: str, settings: dict[str, Any], context: ConnectorContext
) -> Connector:
    """The connector `name` of `kind` with its validated settings. Raises
    ConnectorConfigError naming the key and the problem, one line each."""
    kinds = installed_kinds()
    if kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise ConnectorConfigError(
            f"connectors.{name}.kind: unknown kind {kind!r} (installed: {known})"
        )
    cls = kinds[kind]
    try:
        parsed = cls.settings_model.model_validate(settings)
    except ValidationError as exc:
        lines = [
            f"connectors.{name}.{'.'.join(str(p) for p in err['loc'])}: "
            + str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        ]
        raise ConnectorConfigError("\n".join(lines)) from None
    return cls(parsed, context)
