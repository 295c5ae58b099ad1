"""How the fake OData services write what they answer: entities with `__metadata` and
`__deferred` navigations, EDM values (`/Date(ms)/`, `/Date(ms+0000)/`, decimals as strings),
`$metadata` (EDMX), SAP Gateway's error body, the 401 of a failed logon and the answers the
failure switches force."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.kit.sandbox_https import Reply
from pmo_ledger.connectors.sap.sandbox.odata_entities import EntitySet, Row

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Fault:
    """An answer forced on a coming request: a status (401, 403, 429, 500, 503...)."""

    status: int
    retry_after: int | None = None


class ODataError(Exception):
    """An OData error answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def key_literal(entity_set: EntitySet, value: Any) -> str:
    if entity_set.properties[entity_set.key] == "Edm.Guid":
        return f"guid'{value}'"
    return "'" + str(value).replace("'", "''") + "'"


def entity(
    row: Row,
    entity_set: EntitySet,
    service_url: str,
    select: list[str] | None,
    expanded: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """One entity as OData V2 JSON writes it: `__metadata`, the (selected) properties, each
    navigation `__deferred` or, when expanded, `{"results": [...]}`."""
    uri = f"{service_url}/{entity_set.name}({key_literal(entity_set, row[entity_set.key])})"
    out: dict[str, Any] = {
        "__metadata": {
            "id": uri,
            "uri": uri,
            "type": f"{entity_set.service}.{entity_set.type_name}",
        }
    }
    for name, edm in entity_set.properties.items():
        if select is None or name in select:
            out[name] = _json_value(row[name], edm, entity_set.decimals)
    for name in entity_set.navigations:
        if expanded and name in expanded:
            out[name] = {"results": expanded[name]}
        elif select is None or name in select:
            out[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
    return out


def _json_value(value: Any, edm: str, decimals: int) -> Any:
    if value is None:
        return None
    if edm == "Edm.DateTime":
        return f"/Date({_millis(value.replace(tzinfo=UTC))})/"
    if edm == "Edm.DateTimeOffset":
        return f"/Date({_millis(value)}+0000)/"
    if edm == "Edm.Decimal":
        return f"{Decimal(value):.{decimals}f}"
    return value


def _millis(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def metadata(service: str, sets: Any) -> str:
    types, entity_sets = [], []
    for s in sets:
        props = "".join(
            f'<Property Name="{n}" Type="{t}"'
            + (' Precision="23" Scale="3"' if t == "Edm.Decimal" else "")
            + (' Nullable="false"' if n == s.key else "")
            + "/>"
            for n, t in s.properties.items()
        )
        navs = "".join(f'<NavigationProperty Name="{n}"/>' for n in s.navigations)
        types.append(
            f'<EntityType Name="{s.type_name}"><Key><PropertyRef Name="{s.key}"/>'
            f"</Key>{props}{navs}</EntityType>"
        )
        entity_sets.append(f'<EntitySet Name="{s.name}" EntityType="{service}.{s.type_name}"/>')
    return (
        '<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="1.0" '
        'xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"><edmx:DataServices '
        'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
        'm:DataServiceVersion="2.0"><Schema Namespace="' + service + '" '
        'xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
        + "".join(types)
        + f'<EntityContainer Name="{service}_Entities" m:IsDefaultEntityContainer="true">'
        + "".join(entity_sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )


def _error_body(code: str, message: str) -> str:
    return json.dumps(
        {
            "error": {
                "code": code,
                "message": {"lang": "en", "value": message},
                "innererror": {
                    "transactionid": secrets.token_hex(16).upper(),
                    "timestamp": datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f")[:21],
                    "errordetails": [],
                },
            }
        }
    )


def error_reply(error: ODataError, headers: dict[str, str] | None = None) -> Reply:
    return Reply(error.status, JSON, _error_body(error.code, error.message), headers or {})


def unauthorized(client: str, system_id: str) -> Reply:
    realm = f'Basic realm="SAP NetWeaver Application Server [{system_id}/{client}]"'
    return Reply(
        401,
        "text/html; charset=utf-8",
        "<html><head><title>Logon Error Message</title></head><body>"
        "<p>Logon failed</p></body></html>",
        {"WWW-Authenticate": realm},
    )


_FAULT_MESSAGES = {
    403: ("/IWFND/CM_CONSUMER/101", "No authorization to access the service"),
    429: ("/IWFND/CM_BEC/429", "Too many requests: rate limit exceeded"),
    500: ("/IWBEP/CX_MGW_TECH_EXCEPTION", "An internal server error occurred"),
    502: ("/IWFND/CM_BEC/026", "Bad gateway: backend system not reachable"),
    503: ("/IWFND/CM_BEC/026", "Service temporarily unavailable"),
}


def fault_reply(fault: Fault) -> Reply:
    if fault.status == 401:
        return unauthorized("100", "PMO")
    code, message = _FAULT_MESSAGES.get(fault.status, ("/IWFND/CM_BEC/026", "Error"))
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return error_reply(ODataError(fault.status, code, message), headers)
