"""The sandbox org's data model: objects, their fields and field types, lookups.

Names follow Salesforce and Certinia PSA (`pse__` namespace) exactly, because the connector's
defaults name them. A lookup field `X__c` has the relationship `X__r`; a standard lookup
`AccountId` has `Account`. Every object has the system fields (Id, CreatedDate,
LastModifiedDate, SystemModstamp, IsDeleted) and, in a multi-currency org, CurrencyIsoCode.
Field names are matched case-insensitively, as SOQL does; output uses the declared spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    """Field types as `describe` names them; the value types the org stores for each are
    str (id, reference, string, picklist), date, aware datetime, bool, Decimal, int."""

    ID = "id"
    STRING = "string"
    PICKLIST = "picklist"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    CURRENCY = "currency"
    DOUBLE = "double"
    PERCENT = "percent"
    INT = "int"
    REFERENCE = "reference"


TEXT_TYPES = frozenset({FieldType.STRING, FieldType.PICKLIST})
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})
NUMBER_TYPES = frozenset({FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT, FieldType.INT})
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field. `reference_to` is the target object of a lookup."""

    name: str
    type: FieldType
    label: str = ""
    nillable: bool = True
    reference_to: str | None = None

    @property
    def relationship_name(self) -> str | None:
        """`pse__Region__c` -> `pse__Region__r`; `AccountId` -> `Account`; None if no lookup."""
        if self.type is not FieldType.REFERENCE:
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else None


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One sObject type: its key prefix (first 3 characters of its ids) and fields in order."""

    name: str
    key_prefix: str
    label: str
    fields: tuple[FieldDef, ...]
    _by_name: dict[str, FieldDef] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name.casefold(): f for f in self.fields}
        by_rel = {f.relationship_name.casefold(): f for f in self.fields if f.relationship_name}
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_relationship", by_rel)

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> FieldDef | None:
        """The field of this name (any case), or None."""
        return self._by_name.get(name.casefold())

    def lookup(self, relationship: str) -> FieldDef | None:
        """The lookup field behind a relationship name (any case), or None."""
        return self._by_relationship.get(relationship.casefold())


def _fields(*specs: FieldDef, multi_currency: bool) -> tuple[FieldDef, ...]:
    system = (
        FieldDef("Id", FieldType.ID, "Record ID", nillable=False),
        FieldDef("IsDeleted", FieldType.BOOLEAN, "Deleted", nillable=False),
        FieldDef("CreatedDate", FieldType.DATETIME, "Created Date", nillable=False),
        FieldDef("LastModifiedDate", FieldType.DATETIME, "Last Modified Date", nillable=False),
        FieldDef("SystemModstamp", FieldType.DATETIME, "System Modstamp", nillable=False),
    )
    currency = (FieldDef("CurrencyIsoCode", FieldType.PICKLIST, "Currency ISO Code"),)
    return system + specs + (currency if multi_currency else ())


def _f(name: str, kind: FieldType, to: str | None = None) -> FieldDef:
    label = name.removeprefix("pse__").removesuffix("__c").replace("_", " ")
    return FieldDef(name, kind, label, nillable=name != "Name", reference_to=to)


# fmt: off
# Short type names keep the tables below one field per item and readable.
S, P, D, B = FieldType.STRING, FieldType.PICKLIST, FieldType.DATE, FieldType.BOOLEAN
CUR, DBL, PCT = FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT
INT, REF = FieldType.INT, FieldType.REFERENCE

#: Fields shared by a weekly timecard (header) and its split.
_TIMECARD = (
    _f("Name", S),
    _f("pse__Project__c", REF, "pse__Proj__c"),
    _f("pse__Resource__c", REF, "Contact"),
    _f("pse__Assignment__c", REF, "pse__Assignment__c"),
    _f("pse__Start_Date__c", D),
    _f("pse__End_Date__c", D),
    _f("pse__Total_Hours__c", DBL),
    _f("pse__Total_Cost__c", CUR),
    _f("pse__Status__c", P),
    _f("pse__Include_In_Financials__c", B),
)

#: name -> (key prefix, label, own fields, has CurrencyIsoCode)
_OBJECTS: dict[str, tuple[str, str, tuple[FieldDef, ...], bool]] = {
    "Account": ("001", "Account", (_f("Name", S),), True),
    "pse__Region__c": ("a1R", "Region", (_f("Name", S),), True),
    "pse__Practice__c": ("a1P", "Practice", (_f("Name", S),), True),
    "Contact": ("003", "Contact", (
        _f("Name", S), _f("FirstName", S), _f("LastName", S), _f("Email", S),
        _f("pse__Is_Resource__c", B), _f("pse__Is_Resource_Active__c", B),
        _f("pse__Resource_Role__c", P), _f("pse__Default_Cost_Rate__c", CUR),
        _f("pse__Start_Date__c", D), _f("pse__Region__c", REF, "pse__Region__c"),
        _f("pse__Practice__c", REF, "pse__Practice__c"),
    ), True),
    "Opportunity": ("006", "Opportunity", (
        _f("Name", S), _f("AccountId", REF, "Account"), _f("Amount", CUR), _f("CloseDate", D),
        _f("StageName", P), _f("Probability", PCT), _f("IsClosed", B), _f("IsWon", B),
    ), True),
    "pse__Proj__c": ("a2X", "Project", (
        _f("Name", S), _f("pse__Project_ID__c", S), _f("pse__Start_Date__c", D),
        _f("pse__End_Date__c", D), _f("pse__Stage__c", P), _f("pse__Is_Active__c", B),
        _f("pse__Region__c", REF, "pse__Region__c"),
        _f("pse__Practice__c", REF, "pse__Practice__c"),
        _f("pse__Project_Manager__c", REF, "Contact"), _f("pse__Account__c", REF, "Account"),
        _f("pse__Opportunity__c", REF, "Opportunity"), _f("pse__Percent_Hours_Complete__c", PCT),
    ), True),
    "pse__Assignment__c": ("a0m", "Assignment", (
        _f("Name", S), _f("pse__Project__c", REF, "pse__Proj__c"),
        _f("pse__Resource__c", REF, "Contact"), _f("pse__Start_Date__c", D),
        _f("pse__End_Date__c", D), _f("pse__Scheduled_Hours__c", DBL), _f("pse__Status__c", P),
        _f("pse__Bill_Rate__c", CUR),
    ), True),
    "pse__Timecard_Header__c": ("a5A", "Timecard", _TIMECARD, True),
    "pse__Timecard__c": ("a5B", "Timecard Split", (
        *_TIMECARD, _f("pse__Timecard_Header__c", REF, "pse__Timecard_Header__c"),
    ), True),
    "pse__Expense__c": ("a3E", "Expense", (
        _f("Name", S), _f("pse__Project__c", REF, "pse__Proj__c"),
        _f("pse__Resource__c", REF, "Contact"), _f("pse__Expense_Date__c", D),
        _f("pse__Amount__c", CUR), _f("pse__Type__c", P), _f("pse__Description__c", S),
        _f("pse__Status__c", P), _f("pse__Include_In_Financials__c", B),
    ), True),
    "pse__Budget__c": ("a0B", "Budget", (
        _f("Name", S), _f("pse__Project__c", REF, "pse__Proj__c"), _f("pse__Status__c", P),
        _f("pse__Type__c", P), _f("pse__Amount__c", CUR), _f("pse__Effective_Date__c", D),
    ), True),
    "CurrencyType": ("02B", "Currency", (
        _f("IsoCode", P), _f("ConversionRate", DBL), _f("DecimalPlaces", INT),
        _f("IsActive", B), _f("IsCorporate", B),
    ), False),
    "DatedConversionRate": ("04w", "Dated Exchange Rate", (
        _f("IsoCode", P), _f("ConversionRate", DBL), _f("StartDate", D), _f("NextStartDate", D),
    ), False),
}
# fmt: on


def psa_schema(*, multi_currency: bool = True) -> dict[str, ObjectDef]:
    """The objects of a Certinia PSA org. Without multi-currency there is no CurrencyIsoCode
    (querying it is INVALID_FIELD) and no CurrencyType / DatedConversionRate objects."""
    schema: dict[str, ObjectDef] = {}
    for name, (prefix, label, own, currency) in _OBJECTS.items():
        if not multi_currency and name in ("CurrencyType", "DatedConversionRate"):
            continue
        schema[name] = ObjectDef(
            name, prefix, label, _fields(*own, multi_currency=multi_currency and currency)
        )
    return schema
