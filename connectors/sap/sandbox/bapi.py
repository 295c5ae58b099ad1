"""BAPI_PROJECT_GETINFO over the fake system's PS tables: a BAPI answers its errors in a
RETURN structure, not with an exception (the call succeeds; RETURN-TYPE E or A says it did
not). Interface as SAP documents it (fact sheet /work/shared/reference/source-apis.md 3.4 and
7; stechno.net "BAPI_PROJECT_GETINFO"): import PROJECT_DEFINITION (CHAR 24) or table
I_WBS_ELEMENT_TABLE (not both), flags WITH_ACTIVITIES, WITH_MILESTONES, WITH_SUBTREE; export
E_PROJECT_DEFINITION (BAPI_PROJECT_DEFINITION_EX) and RETURN (one BAPIRETURN1 structure, not
a table); tables E_WBS_ELEMENT_TABLE, E_WBS_HIERARCHIE_TABLE, E_WBS_MILESTONE_TABLE,
E_ACTIVITY_TABLE, E_MESSAGE_TABLE. The structures hold the fields a PS reader uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmo_ledger.connectors.sap.sandbox.system import SapSystem

NAME = "BAPI_PROJECT_GETINFO"
PARAMETERS = frozenset(
    {
        "PROJECT_DEFINITION",
        "I_WBS_ELEMENT_TABLE",
        "WITH_ACTIVITIES",
        "WITH_MILESTONES",
        "WITH_SUBTREE",
        "E_WBS_ELEMENT_TABLE",
        "E_WBS_HIERARCHIE_TABLE",
        "E_WBS_MILESTONE_TABLE",
        "E_ACTIVITY_TABLE",
        "E_MESSAGE_TABLE",
    }
)
_RETURN_FIELDS = (
    "TYPE",
    "ID",
    "NUMBER",
    "MESSAGE",
    "LOG_NO",
    "LOG_MSG_NO",
    "MESSAGE_V1",
    "MESSAGE_V2",
    "MESSAGE_V3",
    "MESSAGE_V4",
)


def bapireturn1(
    kind: str = "", msg_id: str = "", number: str = "", message: str = "", *values: str
) -> dict[str, str]:
    """A BAPIRETURN1 structure (blank: success)."""
    row = dict.fromkeys(_RETURN_FIELDS, "")
    row.update(
        {
            "TYPE": kind,
            "ID": msg_id,
            "NUMBER": number,
            "MESSAGE": message,
            "LOG_MSG_NO": "000000" if kind else "",
        }
    )
    for index, value in enumerate(values[:4], start=1):
        row[f"MESSAGE_V{index}"] = value
    return row


def project_getinfo(
    system: SapSystem,
    client: str,
    params: Mapping[str, Any],
    forced: tuple[str, str, str, str] | None = None,
) -> dict[str, Any]:
    """The BAPI's answer: the project, its WBS elements and hierarchy, and RETURN. `forced`
    (type, id, number, message) makes RETURN report that error with empty results."""
    answer: dict[str, Any] = {
        "E_PROJECT_DEFINITION": {},
        "RETURN": bapireturn1(),
        "E_WBS_ELEMENT_TABLE": [],
        "E_WBS_HIERARCHIE_TABLE": [],
        "E_WBS_MILESTONE_TABLE": [],
        "E_ACTIVITY_TABLE": [],
        "E_MESSAGE_TABLE": [],
    }
    if forced is not None:
        answer["RETURN"] = bapireturn1(*forced)
        return answer
    wanted = str(params.get("PROJECT_DEFINITION", ""))
    elements_asked = [
        str(r.get("WBS_ELEMENT", "")) for r in params.get("I_WBS_ELEMENT_TABLE") or ()
    ]
    if bool(wanted) == bool(elements_asked):
        answer["RETURN"] = bapireturn1(
            "E", "CJ", "030", "Enter either a project definition or WBS elements"
        )
        return answer
    projects = system.rows("PROJ", client=client)
    elements = system.rows("PRPS", client=client)
    if elements_asked:
        found = [e for e in elements if e["POSID"] in elements_asked]
        wanted = next(
            (p["PSPID"] for p in projects if found and p["PSPNR"] == found[0]["PSPHI"]), ""
        )
    project = next((p for p in projects if p["PSPID"] == wanted), None)
    if project is None:
        missing = wanted or elements_asked[0]
        answer["RETURN"] = bapireturn1(
            "E", "CJ", "011", f"Project definition {missing} does not exist", missing
        )
        return answer
    answer["E_PROJECT_DEFINITION"] = {
        "PROJECT_DEFINITION": project["PSPID"],
        "DESCRIPTION": project["POST1"],
        "COMP_CODE": project["VBUKR"],
        "CONTROLLING_AREA": project["VKOKR"],
        "PROFIT_CTR": project["PRCTR"],
        "PROJECT_CURRENCY": project["PWHIE"],
        "PROJECT_PROFILE": project["PROFL"],
        "START": project["PLFAZ"],
        "FINISH": project["PLSEZ"],
    }
    own = [e for e in elements if e["PSPHI"] == project["PSPNR"]]
    if elements_asked:
        own = [e for e in own if e["POSID"] in elements_asked]
    posid = {e["PSPNR"]: e["POSID"] for e in elements}
    answer["E_WBS_ELEMENT_TABLE"] = [
        {
            "WBS_ELEMENT": e["POSID"],
            "PROJECT_DEFINITION": project["PSPID"],
            "DESCRIPTION": e["POST1"],
            "SHORT_ID": e["POSKI"],
            "COMP_CODE": e["PBUKR"],
            "CO_AREA": e["PKOKR"],
            "PROFIT_CTR": e["PRCTR"],
            "PROJ_TYPE": e["PRART"],
            "WBS_PLANNING_ELEMENT": e["PLAKZ"],
            "WBS_ACCOUNT_ASSIGNMENT_ELEMENT": e["BELKZ"],
            "WBS_BILLING_ELEMENT": e["FAKKZ"],
            "CURRENCY": project["PWHIE"],
        }
        for e in own
    ]
    links = {h["POSNR"]: h for h in system.rows("PRHI", client=client)}
    answer["E_WBS_HIERARCHIE_TABLE"] = [
        {
            "WBS_ELEMENT": e["POSID"],
            "PROJECT_DEFINITION": project["PSPID"],
            **{
                side: posid.get(links[e["PSPNR"]][side], "")
                for side in ("UP", "DOWN", "LEFT", "RIGHT")
            },
        }
        for e in own
        if e["PSPNR"] in links
    ]
    return answer
