"""The S/4HANA OData V2 entity sets the fake serves, built from the fake system's tables on
each request (so a posting or a new WBS element shows at once): their properties with EDM
types, keys and rows as Python values.

Properties (fact sheet /work/shared/reference/source-apis.md 3.5 and 7, from SAP's generated
clients `@sap/cloud-sdk-vdm-enterprise-project-service` and
`@sap/cloud-sdk-vdm-journal-entry-item-basic-service`):
- API_ENTERPRISE_PROJECT_SRV `A_EnterpriseProject` (PROJ) and `A_EnterpriseProjectElement`
  (PRPS), keyed by GUIDs; a top element's parent is its project;
- API_JOURNALENTRYITEMBASIC_SRV `A_JournalEntryItemBasic` (the CO line items COEP with COBK),
  an opaque key `ID`, no posting date, no change stamp, no document number; amounts with 3
  decimals; the WBS element as `WBSElementExternalID` (and the deprecated `WBSElement`);
  every leading-ledger (0L) item repeated in the parallel ledger 2L for company code 1000, as
  a reader that forgets the ledger would double count.
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
            "ProjectProfileCode": p["PROFL"],
            "ResponsibleCostCenter": "",
            "ActualStartDate": None,
            "ActualEndDate": None,
            "IsBillingRelevant": True,
            "CreatedByUser": p["ERNAM"],
            "CreationDateTime": _stamp(p["ERDAT"]),
            "LastChangeDateTime": _stamp(p["AEDAT"]),
            "ProjectLastChangedDateTime": _stamp(p["AEDAT"]),
            "LastChangedByUser": p["ERNAM"],
        }
        for p in system.rows("PROJ", client=client)
    ]


def _elements(system: SapSystem, client: str) -> list[Row]:
    projects = {p["PSPNR"]: p for p in system.rows("PROJ", client=client)}
    parents = {h["POSNR"]: h["UP"] for h in system.rows("PRHI", client=client)}
    rows = []
    ordinal: dict[str, int] = {}
    for w in system.rows("PRPS", client=client):
        project = projects.get(w["PSPHI"], {})
        up = parents.get(w["PSPNR"], "00000000")
        ordinal[up] = ordinal.get(up, 0) + 1
        rows.append(
            {
                "ProjectElementUUID": guid("PR", w["PSPNR"]),
                "ProjectUUID": guid("PD", w["PSPHI"]),
                "ProjectElement": w["POSID"],
                "WBSElementInternalID": w["PSPNR"],
                "ProjectElementDescription": w["POST1"],
                "ParentObjectUUID": guid("PD", w["PSPHI"]) if up == "00000000" else guid("PR", up),
                "ProjectElementOrdinalNumber": ordinal[up],
                "ProcessingStatus": "10",
                "EntProjectElementType": "",
                "PlannedStartDate": _date(project.get("PLFAZ", "")),
                "PlannedEndDate": _date(project.get("PLSEZ", "")),
                "ActualStartDate": None,
                "ActualEndDate": None,
                "ResponsibleCostCenter": "",
                "CompanyCode": w["PBUKR"],
                "ProfitCenter": w["PRCTR"],
                "ControllingArea": w["PKOKR"],
                "WBSIsStatisticalWBSElement": False,
                "CostCenter": "",
                "WBSElementIsBillingElement": w["FAKKZ"] == "X",
                "IsProjectMilestone": "",
                "CreatedByUser": w["ERNAM"],
                "CreationDateTime": _stamp(w["ERDAT"]),
                "LastChangeDateTime": _stamp(w["AEDAT"]),
                "LastChangedByUser": w["ERNAM"],
            }
        )
    return rows


def _journal_items(system: SapSystem, client: str) -> list[Row]:
    wbs = {w["OBJNR"]: w for w in system.rows("PRPS", client=client)}
    projects = {p["PSPNR"]: p for p in system.rows("PROJ", client=client)}
    centers = {c["OBJNR"]: c for c in system.rows("CSKS", client=client)}
    orders = {o["OBJNR"]: o for o in system.rows("AUFK", client=client)}
    companies = {c["BUKRS"]: c for c in system.rows("T001", client=client)}
    area = next(iter(system.rows("TKA01", client=client)), {})
    rows = []
    for line in system.rows("COEP", client=client):
        if line["WRTTP"] != "04":
            continue
        company = companies.get(line["BUKRS"], {})
        element = wbs.get(line["OBJNR"])
        project = projects.get(element["PSPHI"], {}) if element else {}
        master = element or centers.get(line["OBJNR"]) or orders.get(line["OBJNR"]) or {}
        item = {
            "LedgerFiscalYear": line["GJAHR"],
            "ControllingArea": line["KOKRS"],
            "ControllingAreaName": area.get("BEZEI", ""),
            "CompanyCode": line["BUKRS"],
            "CompanyCodeName": company.get("BUTXT", ""),
            "GLAccount": line["KSTAR"],
            "GLAccountName": COST_ELEMENTS.get(line["KSTAR"], ""),
            "BusinessTransactionType": line["VRGNG"],
            "CostCenter": centers[line["OBJNR"]]["KOSTL"] if line["OBJNR"] in centers else "",
            "ProfitCenter": master.get("PRCTR", ""),
            "PartnerCostCenter": line["PAROB"][-10:] if line["PAROB"].startswith("KS") else "",
            "TransactionCurrency": line["TWAER"],
            "AmountInTransactionCurrency": Decimal(line["WTGBTR"]),
            "CompanyCodeCurrency": company.get("WAERS", ""),
            "AmountInCompanyCodeCurrency": _company_amount(line, company.get("WAERS", "")),
            "GlobalCurrency": area.get("WAERS", ""),
            "AmountInGlobalCurrency": Decimal(line["WKGBTR"]),
            "ControllingObjectCurrency": line["OWAER"],
            "AmountInObjectCurrency": Decimal(line["WOGBTR"]),
            "FiscalPeriod": line["PERIO"],
            "FiscalYearVariant": company.get("PERIV", ""),
            "FiscalYearPeriod": line["GJAHR"] + line["PERIO"],
            "ChartOfAccounts": company.get("KTOPL", ""),
            "ControllingDebitCreditCode": line["BEKNZ"],
            "ProjectExternalID": project.get("PSPID", ""),
            "Project": project.get("PSPID", ""),
            "ProjectDescription": project.get("POST1", ""),
            "WBSElementExternalID": element["POSID"] if element else "",
            "WBSElement": element["POSID"] if element else "",
            "WBSElementDescription": element["POST1"] if element else "",
            "PartnerCompanyCode": "",
            "OrderID": orders[line["OBJNR"]]["AUFNR"] if line["OBJNR"] in orders else "",
        }
        ledgers = ("0L", "2L") if line["BUKRS"] == "1000" else ("0L",)
        for ledger in ledgers:
            number = f"{ledger}{line['KOKRS']}{line['BELNR']}{line['BUZEI']}"
            rows.append(
                {
                    "ID": guid("JE", number).replace("-", "").upper(),
                    "Ledger": ledger,
                    "LedgerName": _LEDGER_NAMES[ledger],
                    "SourceLedger": ledger,
                    **item,
                }
            )
    return rows


_LEDGER_NAMES = {"0L": "Leading Ledger", "2L": "IFRS Parallel Ledger"}


def _company_amount(line: Mapping[str, str], currency: str) -> Decimal:
    """The line in its company code's currency: the document's amount when that is the
    company's currency, else the controlling area's (EUR) or the object's amount."""
    if currency == line["TWAER"]:
        return Decimal(line["WTGBTR"])
    if currency == "EUR":
        return Decimal(line["WKGBTR"])
    return Decimal(line["WOGBTR"])


# Subsets, in the services' order, of the properties of SAP's generated client for
# API_ENTERPRISE_PROJECT_SRV;v=0002 (@sap/cloud-sdk-vdm-enterprise-project-service,
# EnterpriseProject.ts and EnterpriseProjectElement.ts).
_PROJECT_PROPERTIES = {
    "ProjectUUID": "Edm.Guid",
    **dict.fromkeys(
        ("ProjectInternalID", "Project", "ProjectDescription", "EnterpriseProjectType"),
        "Edm.String",
    ),
    **dict.fromkeys(
        ("ProjectStartDate", "ProjectEndDate", "ActualStartDate", "ActualEndDate"), "Edm.DateTime"
    ),
    **dict.fromkeys(
        (
            "ProcessingStatus",
            "ResponsibleCostCenter",
            "ProfitCenter",
            "ProjectProfileCode",
            "CompanyCode",
            "ControllingArea",
            "ProjectCurrency",
        ),
        "Edm.String",
    ),
    "IsBillingRelevant": "Edm.Boolean",
    "LastChangeDateTime": "Edm.DateTimeOffset",
    "ProjectLastChangedDateTime": "Edm.DateTimeOffset",
    "LastChangedByUser": "Edm.String",
    "CreatedByUser": "Edm.String",
    "CreationDateTime": "Edm.DateTimeOffset",
}
_ELEMENT_PROPERTIES = {
    "ProjectElementUUID": "Edm.Guid",
    "ProjectElement": "Edm.String",
    "WBSElementInternalID": "Edm.String",
    "ProjectUUID": "Edm.Guid",
    "ProjectElementDescription": "Edm.String",
    "ParentObjectUUID": "Edm.Guid",
    "ProjectElementOrdinalNumber": "Edm.Int32",
    "ProcessingStatus": "Edm.String",
    "EntProjectElementType": "Edm.String",
    **dict.fromkeys(
        ("PlannedStartDate", "PlannedEndDate", "ActualStartDate", "ActualEndDate"), "Edm.DateTime"
    ),
    **dict.fromkeys(
        ("ResponsibleCostCenter", "CompanyCode", "ProfitCenter", "ControllingArea"), "Edm.String"
    ),
    "WBSIsStatisticalWBSElement": "Edm.Boolean",
    "CostCenter": "Edm.String",
    "WBSElementIsBillingElement": "Edm.Boolean",
    "IsProjectMilestone": "Edm.String",
    "CreatedByUser": "Edm.String",
    "CreationDateTime": "Edm.DateTimeOffset",
    "LastChangeDateTime": "Edm.DateTimeOffset",
    "LastChangedByUser": "Edm.String",
}

# A subset, in the service's order, of the properties SAP's generated client for
# API_JOURNALENTRYITEMBASIC_SRV lists (@sap/cloud-sdk-vdm-journal-entry-item-basic-service,
# JournalEntryItemBasicApi.ts): no FiscalYear (LedgerFiscalYear), no posting date, no
# document number, no debit/credit code but ControllingDebitCreditCode; WBSElement is
# deprecated for WBSElementExternalID. Quantity is left out (fact sheet section 7).
_JOURNAL_PROPERTIES = {
    "ID": "Edm.String",
    **dict.fromkeys(
        (
            "Ledger",
            "LedgerName",
            "SourceLedger",
            "LedgerFiscalYear",
            "ControllingArea",
            "ControllingAreaName",
            "CompanyCode",
            "CompanyCodeName",
            "GLAccount",
            "GLAccountName",
            "BusinessTransactionType",
            "CostCenter",
            "ProfitCenter",
            "PartnerCostCenter",
            "TransactionCurrency",
        ),
        "Edm.String",
    ),
    "AmountInTransactionCurrency": "Edm.Decimal",
    "CompanyCodeCurrency": "Edm.String",
    "AmountInCompanyCodeCurrency": "Edm.Decimal",
    "GlobalCurrency": "Edm.String",
    "AmountInGlobalCurrency": "Edm.Decimal",
    "ControllingObjectCurrency": "Edm.String",
    "AmountInObjectCurrency": "Edm.Decimal",
    **dict.fromkeys(
        (
            "FiscalPeriod",
            "FiscalYearVariant",
            "FiscalYearPeriod",
            "ChartOfAccounts",
            "ControllingDebitCreditCode",
            "ProjectExternalID",
            "Project",
            "ProjectDescription",
            "WBSElementExternalID",
            "WBSElement",
            "WBSElementDescription",
            "PartnerCompanyCode",
            "OrderID",
        ),
        "Edm.String",
    ),
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
