"""The objects the fake Workfront serves: their fields and types, their references (what
`fields=project:name` and `project:name=X` follow) and the default field list a search returns
without `fields=`.

Field names and codes are Workfront's (API Explorer, as generated into
gh:cjw296/python-workfront/workfront/versions/unsupported.py; the fact sheet's section 2.5).
A field an object does not have is an error, as on Workfront ("APIModel V19_0 does not support
field X (Predecessor)"): PRED, ASSGN and ROLE have no `lastUpdateDate`, so a cursor on them
fails the way it would against the real thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class FieldType(Enum):
    """How a field is stored, filtered and written."""

    STRING = "string"
    INT = "int"
    NUMBER = "number"  # Decimal; written with its exact text
    BOOL = "bool"
    DATETIME = "datetime"  # aware; written `2025-03-04T10:15:02:117-0700`
    DATE = "date"  # a business date; written as midnight of that day in the account's zone


S, INT, N, B, T, D = (
    FieldType.STRING,
    FieldType.INT,
    FieldType.NUMBER,
    FieldType.BOOL,
    FieldType.DATETIME,
    FieldType.DATE,
)


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One object code: its name (as Workfront spells it in messages and URLs), fields,
    references `{name: (id field, object code)}` and the default fields of a search."""

    code: str
    name: str
    fields: Mapping[str, FieldType]
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    defaults: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        return name in self.fields


_STAMPS = {"entryDate": T, "lastUpdateDate": T}

# fmt: off
_OBJECTS = (
    ObjectDef(
        "PORT", "Portfolio",
        {
            "ID": S, "name": S, "description": S, "ownerID": S, "isActive": B, "budget": N,
            "currency": S, **_STAMPS,
        },
        {
            "owner": ("ownerID", "USER"),
        },
        (
            "ID", "name", "isActive",
        ),
    ),
    ObjectDef(
        "PRGM", "Program",
        {
            "ID": S, "name": S, "description": S, "portfolioID": S, "ownerID": S, "isActive": B,
            **_STAMPS,
        },
        {
            "portfolio": ("portfolioID", "PORT"), "owner": ("ownerID", "USER"),
        },
        (
            "ID", "name", "isActive",
        ),
    ),
    ObjectDef(
        "PROJ", "Project",
        {
            "ID": S, "name": S, "referenceNumber": INT, "status": S, "portfolioID": S,
            "programID": S, "ownerID": S, "plannedStartDate": T, "plannedCompletionDate": T,
            "actualStartDate": T, "actualCompletionDate": T, "projectedCompletionDate": T,
            "percentComplete": N, "condition": S, "budget": N, "currency": S, "workRequired": INT,
            "actualWorkRequired": INT, "plannedCost": N, "actualCost": N, "priority": INT,
            "DE:PSA Project Code": S, **_STAMPS,
        },
        {
            "portfolio": ("portfolioID", "PORT"), "program": ("programID", "PRGM"),
            "owner": ("ownerID", "USER"),
        },
        (
            "ID", "name", "status", "percentComplete", "plannedStartDate",
            "plannedCompletionDate", "priority",
        ),
    ),
    ObjectDef(
        "TASK", "Task",
        {
            "ID": S, "name": S, "projectID": S, "parentID": S, "taskNumber": INT, "wbs": S,
            "status": S, "percentComplete": N, "plannedStartDate": T, "plannedCompletionDate": T,
            "actualStartDate": T, "actualCompletionDate": T, "duration": N,
            "durationMinutes": INT, "durationUnit": S, "workRequired": INT, "work": N,
            "actualWorkRequired": INT, "assignedToID": S, "roleID": S, "milestoneID": S,
            "predecessorExpression": S, "priority": INT, "DE:Optimistic Duration": N,
            "DE:Pessimistic Duration": N, **_STAMPS,
        },
        {
            "project": ("projectID", "PROJ"), "parent": ("parentID", "TASK"),
            "assignedTo": ("assignedToID", "USER"), "role": ("roleID", "ROLE"),
        },
        (
            "ID", "name", "taskNumber", "status", "percentComplete", "plannedStartDate",
            "plannedCompletionDate", "priority",
        ),
    ),
    ObjectDef(
        "PRED", "Predecessor",
        {
            "ID": S, "predecessorID": S, "successorID": S, "predecessorType": S, "lagDays": N,
            "lagType": S, "isCP": B, "isEnforced": B,
        },
        {
            "predecessor": ("predecessorID", "TASK"), "successor": ("successorID", "TASK"),
        },
        (
            "ID", "predecessorID", "successorID", "predecessorType", "lagDays", "lagType",
        ),
    ),
    ObjectDef(
        "HOUR", "Hour",
        {
            "ID": S, "hours": N, "entryDate": D, "projectID": S, "taskID": S, "opTaskID": S,
            "ownerID": S, "roleID": S, "hourTypeID": S, "timesheetID": S, "status": S,
            "actualCost": N, "approvedByID": S, "approvedOnDate": T, "description": S,
            "lastUpdateDate": T,
        },
        {
            "project": ("projectID", "PROJ"), "task": ("taskID", "TASK"),
            "owner": ("ownerID", "USER"), "role": ("roleID", "ROLE"),
        },
        (
            "ID", "hours", "entryDate", "status",
        ),
    ),
    ObjectDef(
        "EXPNS", "Expense",
        {
            "ID": S, "description": S, "actualAmount": N, "actualUnitAmount": N,
            "plannedAmount": N, "plannedUnitAmount": N, "effectiveDate": D, "plannedDate": D,
            "expenseTypeID": S, "projectID": S, "taskID": S, "objID": S, "expObjCode": S,
            "isBillable": B, "isReimbursable": B, **_STAMPS,
        },
        {
            "project": ("projectID", "PROJ"), "task": ("taskID", "TASK"),
        },
        (
            "ID", "description", "actualAmount", "effectiveDate",
        ),
    ),
    ObjectDef(
        "ASSGN", "Assignment",
        {
            "ID": S, "assignedToID": S, "roleID": S, "taskID": S, "projectID": S, "opTaskID": S,
            "workRequired": INT, "work": N, "actualWorkCompleted": N, "assignmentPercent": N,
            "isPrimary": B, "status": S,
        },
        {
            "assignedTo": ("assignedToID", "USER"), "role": ("roleID", "ROLE"),
            "task": ("taskID", "TASK"), "project": ("projectID", "PROJ"),
        },
        (
            "ID", "assignmentPercent", "status", "workRequired",
        ),
    ),
    ObjectDef(
        "USER", "User",
        {
            "ID": S, "name": S, "firstName": S, "lastName": S, "emailAddr": S, "username": S,
            "title": S, "roleID": S, "costPerHour": N, "billingPerHour": N, "isActive": B,
            **_STAMPS,
        },
        {
            "role": ("roleID", "ROLE"),
        },
        (
            "ID", "name", "emailAddr", "title",
        ),
    ),
    ObjectDef(
        "ROLE", "Role",
        {
            "ID": S, "name": S, "description": S, "costPerHour": N, "billingPerHour": N,
            "isActive": B,
        },
        {},
        (
            "ID", "name", "description",
        ),
    ),
    ObjectDef(
        "JRNLE", "JournalEntry",
        {
            "ID": S, "changeType": S, "fieldName": S, "objObjCode": S, "objID": S,
            "subObjCode": S, "subObjID": S, "topObjCode": S, "topObjID": S, "oldNumberVal": N,
            "newNumberVal": N, "oldTextVal": S, "newTextVal": S, "aux1": S, "aux2": S, "aux3": S,
            "editedByID": S, "entryDate": T,
        },
        {
            "editedBy": ("editedByID", "USER"),
        },
        (
            "ID", "changeType", "entryDate", "fieldName", "objObjCode", "objID",
        ),
    ),
)
# fmt: on

#: The objects by code.
OBJECTS: dict[str, ObjectDef] = {obj.code: obj for obj in _OBJECTS}

#: Names a URL may use for an object (case-insensitive): the code or the object's name.
_ALIASES = {
    **{obj.code.lower(): obj.code for obj in _OBJECTS},
    **{obj.name.lower(): obj.code for obj in _OBJECTS},
    "project": "PROJ",
    "program": "PRGM",
    "portfolio": "PORT",
    "hour": "HOUR",
    "expense": "EXPNS",
    "assignment": "ASSGN",
    "predecessor": "PRED",
    "journalentry": "JRNLE",
}


def lookup(name: str) -> ObjectDef | None:
    """The object a URL names (`proj`, `project`, `PROJ`...), or None."""
    code = _ALIASES.get(name.lower())
    return OBJECTS[code] if code else None
