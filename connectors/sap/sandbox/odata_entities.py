"""The S/4HANA OData V2 entity sets the fake serves, built from the fake system's tables on
each request (so a posting or a new WBS element shows at once): their properties with EDM
types, keys and rows as Python values.

Properties (fact sheet /work/shared/reference/source-apis.md 3.5 and 7, from SAP's generated
clients `@sap/cloud-sdk-vdm-enterprise-project-service` and
`@sap/cloud-sdk-vdm-journal-entry-item-basic-service`):
- API_ENTERPRISE_PROJECT_SRV `A_EnterpriseProject` (PROJ) and `A_EnterpriseProjectElement`
  (PRPS), keyed by GUIDs; a top element's parent is its project;
- API_JOURNALENTRYITEMBASIC_SRV `A_JournalEntryItemBasic` (the CO line items COEP with COBK),
  an opaque key `ID`, no posting date, no change stamp, no document line number; amounts with
  3 decimals; the WBS element as its external ID; every leading-ledger (0L) item repeated in
  the parallel ledger 2L for company code 1000, as a reader that forgets the ledger would
  double count.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.sap.sandbox.seed import COST_ELEMENTS
from pmo_ledger.connectors.sap.sandbox.system import SapSystem

_NAMESPACE = uuid.UUID("6f1c2b8e-21a0-4c55-9d0e-5a0000000021")

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EntitySet:
    """One entity set: its service, entity type, properties (name -> EDM type, in order),
    key property, navigations (name -> target set and the property linking them) and the
    function that builds its rows."""

    service: str
    name: str
    type_name: str
    properties: Mapping[str, str]
    key: str
    rows: Callable[[SapSystem, str], list[Row]]
    navigations: Mapping[str, tuple[str, str]]
    decimals: int = 3


def guid(kind: str, number: str) -> str:
    """A stable GUID for an internal number (SAP keys its enterprise projects by GUIDs)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{number}"))


def _date(text: str) -> datetime | None:
    """An ABAP date as Edm.DateTime (midnight, no zone); 00000000 is null."""
    if not text or text == "00000000":
        return None
    return datetime.combine(date.fromisoformat(text), time())


def _stamp(day: str, clock: str = "120000") -> datetime | None:
    if not day or day == "00000000":
        return None
    moment = datetime.strptime(day + clock, "%Y%m%d%H%M%S")  # noqa: DTZ007 - stored as UTC
    return moment.replace(tzinfo=UTC)


def _projects(system: SapSystem, client: str) -> list[Row]:
    return [
        {
            "ProjectUUID": guid("PD", p["PSPNR"]),
            "ProjectInternalID": p["PSPNR"],
            "Project": p["PSPID"],
            "ProjectDescription": p["POST1"],
            "EnterpriseProjectType": "P1",
            "ProjectStartDate": _date(p["PLFAZ"]),
            "ProjectEndDate": _date(p["PLSEZ"]),
            "ProcessingStatus": "10",
            "CompanyCode": p["VBUKR"],
            "ControllingArea": p["VKOKR"],
            "ProfitCenter": p["PRCTR"],
            "ProjectCurrency": p["PWHIE"],
            "ResponsibleCostCenter": "",
            "LastChangeDateTime": _stamp(p["AEDAT"]),
        }
        for p in system.rows("PROJ", client=client)
    ]


def _elements(system: SapSystem, client: str) -> list[Row]:
    projects = {p["PSPNR"]: p for p in system.rows("PROJ", client=client)}
    parents = {h["POSNR"]: h["UP"] for h in system.rows("PRHI", client=client)}
    rows = []
    for w in system.rows("PRPS", client=client):
        project = projects.get(w["PSPHI"], {})
        up = parents.get(w["PSPNR"], "00000000")
        rows.append(
            {
                "ProjectElementUUID": guid("PR", w["PSPNR"]),
                "ProjectUUID": guid("PD", w["PSPHI"]),
                "ProjectElement": w["POSID"],
                "WBSElementInternalID": w["PSPNR"],
                "ProjectElementDescription": w["POST1"],
                "ParentObjectUUID": guid("PD", w["PSPHI"]) if up == "00000000" else guid("PR", up),
                "PlannedStartDate": _date(project.get("PLFAZ", "")),
                "PlannedEndDate": _date(project.get("PLSEZ", "")),
                "ProcessingStatus": "10",
                "CompanyCode": w["PBUKR"],
                "ProfitCenter": w["PRCTR"],
                "CostCenter": "",
                "IsProjectMilestone": False,
                "WBSIsStatisticalWBSElement": False,
                "LastChangeDateTime": _stamp(w["AEDAT"]),
                "ProjectLastChangedDateTime": _stamp(project.get("AEDAT", "")),
            }
        )
    return rows


def _journal_items(system: SapSystem, client: str) -> list[Row]:
    wbs = {w["OBJNR"]: w for w in system.rows("PRPS", client=client)}
    centers = {c["OBJNR"]: c for c in system.rows("CSKS", client=client)}
    currencies = {c["BUKRS"]: c["WAERS"] for c in system.rows("T001", client=client)}
    rows = []
    for line in system.rows("COEP", client=client):
        if line["WRTTP"] != "04":
            continue
        company_currency = currencies.get(line["BUKRS"], "")
        if company_currency == line["TWAER"]:
            local = Decimal(line["WTGBTR"])
        elif company_currency == "EUR":
            local = Decimal(line["WKGBTR"])
        else:
            local = Decimal(line["WOGBTR"])
        element = wbs.get(line["OBJNR"])
        center = centers.get(line["OBJNR"])
        item = {
            "CompanyCode": line["BUKRS"],
            "FiscalYear": line["GJAHR"],
            "LedgerFiscalYear": line["GJAHR"],
            "FiscalPeriod": line["PERIO"],
            "GLAccount": line["KSTAR"],
            "GLAccountName": COST_ELEMENTS.get(line["KSTAR"], ""),
            "AmountInCompanyCodeCurrency": local,
            "CompanyCodeCurrency": company_currency,
            "AmountInTransactionCurrency": Decimal(line["WTGBTR"]),
            "TransactionCurrency": line["TWAER"],
            "DebitCreditCode": "S" if Decimal(line["WTGBTR"]) >= 0 else "H",
            "ControllingDebitCreditCode": line["BEKNZ"],
            "PartnerCompanyCode": "",
            "JournalEntry": line["BELNR"],
            "DocumentItemText": line["SGTXT"],
            "WBSElement": element["POSID"] if element else "",
            "CostCenter": center["KOSTL"] if center else "",
            "ProfitCenter": (element or center or {}).get("PRCTR", ""),
        }
        ledgers = ("0L", "2L") if line["BUKRS"] == "1000" else ("0L",)
        for ledger in ledgers:
            number = f"{ledger}{line['KOKRS']}{line['BELNR']}{line['BUZEI']}"
            rows.append(
                {"ID": guid("JE", number).replace("-", "").upper(), **item, "Ledger": ledger}
            )
    return rows


_PROJECT_PROPERTIES = {
    "ProjectUUID": "Edm.Guid",
    "ProjectInternalID": "Edm.String",
    "Project": "Edm.String",
    "ProjectDescription": "Edm.String",
    "EnterpriseProjectType": "Edm.String",
    "ProjectStartDate": "Edm.DateTime",
    "ProjectEndDate": "Edm.DateTime",
    "ProcessingStatus": "Edm.String",
    "CompanyCode": "Edm.String",
    "ControllingArea": "Edm.String",
    "ProfitCenter": "Edm.String",
    "ProjectCurrency": "Edm.String",
    "ResponsibleCostCenter": "Edm.String",
    "LastChangeDateTime": "Edm.DateTimeOffset",
}
_ELEMENT_PROPERTIES = {
    "ProjectElementUUID": "Edm.Guid",
    "ProjectUUID": "Edm.Guid",
    "ProjectElement": "Edm.String",
    "WBSElementInternalID": "Edm.String",
    "ProjectElementDescription": "Edm.String",
    "ParentObjectUUID": "Edm.Guid",
    "PlannedStartDate": "Edm.DateTime",
    "PlannedEndDate": "Edm.DateTime",
    "ProcessingStatus": "Edm.String",
    "CompanyCode": "Edm.String",
    "ProfitCenter": "Edm.String",
    "CostCenter": "Edm.String",
    "IsProjectMilestone": "Edm.Boolean",
    "WBSIsStatisticalWBSElement": "Edm.Boolean",
    "LastChangeDateTime": "Edm.DateTimeOffset",
    "ProjectLastChangedDateTime": "Edm.DateTimeOffset",
}
_JOURNAL_PROPERTIES = {
    "ID": "Edm.String",
    "CompanyCode": "Edm.String",
    "FiscalYear": "Edm.String",
    "LedgerFiscalYear": "Edm.String",
    "FiscalPeriod": "Edm.String",
    "GLAccount": "Edm.String",
    "GLAccountName": "Edm.String",
    "AmountInCompanyCodeCurrency": "Edm.Decimal",
    "CompanyCodeCurrency": "Edm.String",
    "AmountInTransactionCurrency": "Edm.Decimal",
    "TransactionCurrency": "Edm.String",
    "DebitCreditCode": "Edm.String",
    "ControllingDebitCreditCode": "Edm.String",
    "Ledger": "Edm.String",
    "PartnerCompanyCode": "Edm.String",
    "JournalEntry": "Edm.String",
    "DocumentItemText": "Edm.String",
    "WBSElement": "Edm.String",
    "CostCenter": "Edm.String",
    "ProfitCenter": "Edm.String",
}

PROJECT_SERVICE = "API_ENTERPRISE_PROJECT_SRV"
JOURNAL_SERVICE = "API_JOURNALENTRYITEMBASIC_SRV"

ENTITY_SETS: dict[tuple[str, str], EntitySet] = {
    (s.service, s.name): s
    for s in (
        EntitySet(
            PROJECT_SERVICE,
            "A_EnterpriseProject",
            "A_EnterpriseProjectType",
            _PROJECT_PROPERTIES,
            "ProjectUUID",
            _projects,
            {"to_EnterpriseProjectElement": ("A_EnterpriseProjectElement", "ProjectUUID")},
        ),
        EntitySet(
            PROJECT_SERVICE,
            "A_EnterpriseProjectElement",
            "A_EnterpriseProjectElementType",
            _ELEMENT_PROPERTIES,
            "ProjectElementUUID",
            _elements,
            {},
        ),
        EntitySet(
            JOURNAL_SERVICE,
            "A_JournalEntryItemBasic",
            "A_JournalEntryItemBasicType",
            _JOURNAL_PROPERTIES,
            "ID",
            _journal_items,
            {},
        ),
    )
}
