"""SAP's RFC failures as the contract's errors: pyrfc's exception classes (by name: the
module is loaded at run time), ABAP exception keys of RFC_READ_TABLE, and the RETURN
messages of type E/A a BAPI answers with instead of raising. Each row says which key or
authorization to fix; `tests/connectors/sap/test_rfc.py` reaches every row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule

#: The one line said when the RFC module is missing.
MISSING_MODULE = (
    "{name}: cannot import Connection from {module!r} ({error}): install SAP's PyRFC with the "
    "SAP NW RFC SDK (support.sap.com, an SAP login is needed; see docs/connectors/sap.md), or "
    'set connectors.{name}.rfc_module to a drop-in module, or use transport = "odata"'
)

#: PyRFC's exceptions by class name, and ABAP exception keys / RETURN types, as the contract's
#: errors. Codes are tried as `key`, then as the class names of the exception's MRO.
RFC_ERRORS = (
    ErrorRule(
        ConnectorTransientError,
        "{what}: the connection to SAP failed ({detail})",
        code="CommunicationError",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: SAP refused the logon ({detail}): check connectors.{name}.rfc "
        "(user, passwd, client, ashost/sysnr or mshost/group or dest)",
        code="LogonError",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the RFC user may not call the function ({detail}): it needs S_RFC for "
        "the function group (docs/connectors/sap.md)",
        code="RFC_NO_AUTHORITY",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the RFC user may not call the function ({detail}): it needs S_RFC for "
        "the function group (docs/connectors/sap.md)",
        code="ExternalAuthorizationError",
    ),
    ErrorRule(
        StreamConfigError,
        "{what}: SAP has no such table or it cannot be read ({code}: {detail})",
        code="TABLE_NOT_AVAILABLE",
    ),
    ErrorRule(
        StreamConfigError,
        "{what}: SAP has no data behind that name: a structure or view, not a database "
        "table ({code}: {detail})",
        code="TABLE_WITHOUT_DATA",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the RFC user may not read the table ({code}: {detail}): it needs "
        "S_TABU_DIS for its authorization group or S_TABU_NAM for the table",
        code="NOT_AUTHORIZED",
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: SAP has no such function module ({code}: {detail}): set "
        "connectors.{name}.read_table_function",
        code="FU_NOT_FOUND",
    ),
    ErrorRule(
        SourceError,
        "{what}: a row is wider than the function's buffer ({code}: {detail}): lower "
        "connectors.{name}.row_bytes",
        code="DATA_BUFFER_EXCEEDED",
    ),
    ErrorRule(
        StreamConfigError,
        "{what}: SAP refused a field or condition ({code}: {detail})",
        code="FIELD_NOT_VALID",
    ),
    ErrorRule(
        StreamConfigError,
        "{what}: SAP refused a field or condition ({code}: {detail})",
        code="OPTION_NOT_VALID",
    ),
    ErrorRule(SourceError, "{what}: SAP answered {code}: {detail}", code="RETURN"),
    ErrorRule(SourceError, "{what}: {kind} {code}: {detail}", code="RFCError"),
)


def return_error(result: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first RETURN / ET_RETURN message of type E or A: (its type, 'ID NUMBER: MESSAGE');
    a BAPI reports errors there, not as exceptions (RETURN is one structure or a table)."""
    for name in ("RETURN", "ET_RETURN"):
        value = result.get(name)
        rows = [value] if isinstance(value, Mapping) else value or []
        for row in rows:
            if isinstance(row, Mapping) and str(row.get("TYPE", "")).strip() in ("E", "A"):
                ident = f"{row.get('ID', '')} {row.get('NUMBER', '')}".strip()
                text = str(row.get("MESSAGE", "")).strip()
                return str(row["TYPE"]).strip(), f"{ident}: {text}" if ident else text
    return None
