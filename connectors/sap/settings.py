"""Settings of the SAP connector (`kind = "sap"`): the wire, the logon, what is read.

`transport = "rfc"` (ECC or S/4 over RFC, through a PyRFC-compatible module) or `"odata"`
(S/4HANA OData V2 services). Over RFC, `[connectors.<name>.rfc]` holds the logon parameters
handed to `Connection(**params)` as they are (`ashost`, `sysnr`, `client`, `user`, `passwd`,
`lang`; or `dest` alone; or `mshost`, `group`, `sysid`; `mysapsso2` or `x509cert` for single
sign-on); secrets (`passwd`, `mysapsso2`, `x509cert`) come through `${ENV}` or a `*_file` key
like every other secret (`passwd_file = "/run/secrets/sap"`) and are never logged.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.kit.fields import currency_code, time_zone_name

ObjectType = Literal["PR", "KS", "OR", "PC"]
#: Logon keys that are credentials: a password, or a logon ticket / X.509 certificate (SSO:
#: whoever holds one logs on as its user).
_SECRET = re.compile(r"passwd|password|secret|token|mysapsso2|x509cert", re.IGNORECASE)
#: CO object types (the first two characters of OBJNR) and the ledger's cost object types.
OBJECT_TYPES = {"PR": "wbs", "KS": "cost_center", "OR": "order", "PD": "project"}


class SapSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "sap"` connector."""

    transport: Literal["rfc", "odata"] = "rfc"
    # --- RFC -----------------------------------------------------------------------------
    #: The module `Connection` is imported from: SAP's pyrfc or a drop-in with its interface.
    rfc_module: str = Field(default="pyrfc", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    #: Logon parameters passed to Connection(**rfc) as they are.
    rfc: dict[str, str | int | SecretStr] = Field(default_factory=dict)
    read_table_function: str = Field(default="RFC_READ_TABLE", pattern=r"^[A-Z0-9_/]+$")
    #: DELIMITER of RFC_READ_TABLE; rows are cut by offsets whatever it is ("" = fixed width).
    delimiter: str = Field(default="|", max_length=1)
    #: The width one row of the read function may have (RFC_READ_TABLE: 512 bytes).
    row_bytes: int = Field(default=512, ge=64, le=65_535)
    #: ROWCOUNT of one RFC_READ_TABLE call.
    page_rows: int = Field(default=5_000, ge=1, le=1_000_000)
    # --- OData (S/4HANA) -------------------------------------------------------------------
    base_url: str | None = None
    #: The OData (communication) user; `username` is read as the same key.
    user: str | None = Field(default=None, validation_alias=AliasChoices("user", "username"))
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    token_url: str | None = None
    ca_bundle: Path | None = None
    #: `sap-client` sent with every OData call (the RFC client is `rfc.client`).
    sap_client: str | None = Field(default=None, pattern=r"^\d{3}$")
    project_service: str = "API_ENTERPRISE_PROJECT_SRV;v=0002"
    journal_service: str = "API_JOURNALENTRYITEMBASIC_SRV"
    #: The journal item property naming the WBS element (its external id). UNVERIFIED name:
    #: check the service's $metadata.
    wbs_property: str = "WBSElementExternalID"
    #: Only the leading ledger counts: parallel ledgers repeat the same postings.
    ledger: str = "0L"
    #: Not sent: the server pages (`__next`); kept so configurations that set it still load.
    odata_page_size: int = Field(default=1_000, ge=1, le=5_000)
    # --- both ------------------------------------------------------------------------------
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    #: Actual costs from CO totals (COSP/COSS by period) or CO line items (COEP); never both.
    actuals: Literal["totals", "items"] = "totals"
    #: The SAP system's time zone: COBK's entry date and time (the items cursor) are local.
    system_timezone: str = "UTC"
    #: Each run re-reads the periods from this many back to the current one.
    open_periods_back: int = Field(default=2, ge=0, le=24)
    #: Last fiscal year's special periods (13-16: year-end closing) are re-read by each run
    #: while the current period's number is at most this (0: never).
    special_periods_open_until: int = Field(default=4, ge=0, le=16)
    #: A full read starts at this fiscal year (None: every year the tables hold).
    first_year: int | None = Field(default=None, ge=1900, le=9999)
    #: Controlling area (KOKRS): its currency (TKA01) is the amounts' currency.
    controlling_area: str | None = None
    #: The amounts' currency when it is not read from TKA01 / T001.
    currency: str | None = None
    #: Cost objects read: "PR" WBS elements, "KS" cost centers, "OR" internal orders, "PC"
    #: profit centers (OData only: profit centers are no CO objects in COSP/COSS).
    object_types: list[ObjectType] = Field(default_factory=lambda: list[ObjectType](["PR"]))
    #: Where a WBS element's postings go: to its project definition (a `project` key, the
    #: element as task) or to the element itself (a `wbs` key, placed by cost_object_map
    #: or link rules such as "POSID prefix = project code").
    wbs_postings: Literal["project", "wbs"] = "project"
    plan_version: str = Field(default="000", pattern=r"^\d{3}$")
    #: Count settlement postings (CO debit/credit indicator BEKNZ 'A': the credit a settled
    #: WBS element or order receives, and its debit on the receiver) as actual cost. Off: a
    #: settled element's costs stay where they were incurred and are not netted away.
    include_settlement: bool = False
    #: Budget (BPGE) value type and the budget activities (VORGA) that make the budget:
    #: original, supplement, return, transfer sent (KBUS, negative) and received (KBUE)
    #: ([] counts every activity but the release's). Annual values (BPJA, by GJAHR) phase
    #: the budget by fiscal year where BPJA has rows; the rest of the overall value (BPGE)
    #: is phased over the project's dates.
    budget_value_type: str = "41"
    budget_activities: list[str] = Field(
        default_factory=lambda: ["KBUD", "KBN0", "KBR0", "KBUS", "KBUE"]
    )
    #: The release (CJ32/CJ3A: what may be spent now) as each project's `released` version:
    #: its value type and activities in BPGE (overall) and BPJA (by fiscal year). [] reads
    #: no release (and deletes the `released` versions read before). Never budget: EVM and
    #: budget_overrun read `current`.
    release_value_type: str = "41"
    release_activities: list[str] = Field(default_factory=lambda: ["KBFR"])
    #: The budget ledger (BPGE/BPJA LEDNR) read; other ledgers repeat or plan the budget.
    budget_ledger: str = Field(default="0001", pattern=r"^[0-9A-Z]{1,4}$")
    #: Cost type -> cost elements (KSTAR; over OData the GL account), each a number or an
    #: inclusive range: `travel = ["474000-474999"]`. An element no list holds stays
    #: `KSTAR <number>`.
    cost_types: dict[str, list[str]] = Field(default_factory=dict)
    #: Read TCURR exchange rates of this rate type into fx rates (None: no fx stream).
    fx_rate_type: str | None = None
    #: Projects and WBS elements no longer listed (archived without a deletion flag; over
    #: OData, any gone) are deleted; a read that would delete more than this share of the
    #: keys the last read listed, and more than `max_vanished_min`, stops that stream instead.
    max_vanished_share: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    max_vanished_min: int = Field(default=5, ge=0)
    #: Rows per page handed to the runner.
    page_size: int = Field(default=2_000, ge=1, le=100_000)

    @field_validator("rfc")
    @classmethod
    def _logon(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {
            k: SecretStr(v) if _SECRET.search(k) and isinstance(v, str) else v
            for k, v in value.items()
        }

    @field_validator("cost_types")
    @classmethod
    def _elements(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from pmo_ledger.connectors.sap.cost_types import parse_ranges

        for name, given in value.items():
            if not name.strip():
                raise ValueError("a cost type name is empty")
            parse_ranges(given)
        return value

    @field_validator("system_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone_name(value)

    @field_validator("currency")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return currency_code(value)

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s):// URL: {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _consistent(self) -> SapSettings:
        if self.transport == "rfc":
            if "PC" in self.object_types:
                raise ValueError(
                    'object_types "PC" (profit centers) needs transport = "odata": COSP/COSS '
                    "hold no profit center objects"
                )
            if not self.rfc:
                raise ValueError(
                    "transport rfc needs [connectors.<name>.rfc] with the logon parameters "
                    "(ashost, sysnr, client, user, passwd; or dest; or mshost, group, sysid)"
                )
            if self.controlling_area is None and (self.actuals == "items" or not self.currency):
                raise ValueError(
                    "set controlling_area (its currency is read from TKA01; line items are "
                    "read by it) or currency"
                )
        else:
            if self.base_url is None:
                raise ValueError("transport odata needs base_url")
            if self.actuals == "items":
                raise ValueError(
                    'actuals = "items" reads CO line items (COEP) over RFC; over OData the '
                    "journal items are summed per period (leave actuals unset)"
                )
            basic = self.user is not None and self.password is not None
            oauth = self.client_id is not None and self.client_secret is not None
            if not basic and not oauth:
                raise ValueError(
                    "transport odata needs user and password, or client_id, "
                    "client_secret and token_url"
                )
            if oauth and not basic and self.token_url is None:
                raise ValueError("OAuth client credentials need token_url")
        return self

    def logon(self) -> dict[str, Any]:
        """The Connection parameters as strings (pyrfc takes no other type: `sysnr = 0` in
        TOML is "0"), secrets revealed (never logged)."""
        return {
            k: v.get_secret_value() if isinstance(v, SecretStr) else str(v)
            for k, v in self.rfc.items()
        }
