"""Settings of the Oracle connector (`kind = "oracle"`): which product (`flavor`), how it is
reached, what is read.

`flavor = "ebs"`: E-Business Suite Projects read with SQL through SQLAlchemy Core. `url` is a
SQLAlchemy URL: `oracle+oracledb://user@host:1521/?service_name=EBS` for a real EBS (thin
mode: no Oracle Client libraries), or an EBS-shaped copy in SQLite or PostgreSQL (the
sandbox, the tests); `password` is a secret (`${ENV}` or `password_file`). `schema` names the
owner of the objects (`APPS` by default: its synonyms reach PA and GL tables).

`flavor = "fusion"`: Fusion Cloud PPM over REST, configured in `[connectors.<name>.fusion]`
(`connectors/oracle/fusion/settings.py`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.kit.fields import currency_code, time_zone_name
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.ledger.settings import Duration

#: An unquoted Oracle identifier (the schema name is rendered into SQL, never a bind value).
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_$#]{0,127}")
#: The keys of the EBS flavor: with flavor = "fusion" they are refused (the Fusion table has
#: its own `cost`, `base_currency`, `fx_rate_type`, `page_size`).
EBS_KEYS = ("url", "password", "schema_name", "db_timezone", "arraysize", "prefetchrows",
            "thick_mode", "cost", "org_ids", "budget_type", "fx_rate_type", "ledger_rate_type",
            "base_currency", "page_size", "commit_lag")  # fmt: skip
#: EBS's system linkage functions of labor: straight time and overtime.
LABOR_LINKAGES = ("ST", "OT")


class OracleSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "oracle"` connector."""

    flavor: Literal["ebs", "fusion"] = "ebs"
    # --- EBS -------------------------------------------------------------------------------
    #: SQLAlchemy URL of the EBS database (no password in it: `password`).
    url: str | None = None
    password: SecretStr | None = None
    #: The schema whose objects are read (EBS: APPS; a copy: its own schema).
    schema_name: str = Field(default="APPS", alias="schema")
    #: The database's time zone: LAST_UPDATE_DATE is a DATE without one.
    db_timezone: str = "UTC"
    #: Rows per round trip (python-oracledb `cursor.arraysize`) and rows returned with the
    #: execute (`cursor.prefetchrows`); also the SQLAlchemy `yield_per` of every read.
    arraysize: int = Field(default=5_000, ge=1, le=100_000)
    prefetchrows: int = Field(default=5_000, ge=0, le=100_000)
    #: Python-oracledb thick mode (Oracle Client libraries installed): needed only for
    #: features thin mode lacks (e.g. native network encryption on old databases).
    thick_mode: bool = False
    #: The expenditure items' cost that counts: raw, or burdened (raw plus burden).
    cost: Literal["raw", "burdened"] = "raw"
    #: Operating units (ORG_ID) read; empty: every one the schema holds.
    org_ids: list[int] = Field(default_factory=list)
    #: The cost budget type (PA_BUDGET_VERSIONS.BUDGET_TYPE_CODE): AC, Approved Cost Budget.
    budget_type: str = "AC"
    #: GL_DAILY_RATES conversion type read into fx rates (e.g. "Corporate"); None: no stream.
    fx_rate_type: str | None = None
    #: The ledger's rate type those rates are loaded as (`[ledger] rate_type`).
    ledger_rate_type: str = Field(default="corporate", min_length=1, max_length=40)
    #: The ledger's base currency: a line whose functional currency is this one keeps the
    #: functional amount EBS states as its base amount (fx_source 'source'); None: never.
    base_currency: str | None = None
    #: Records per page handed to the runner.
    page_size: int = Field(default=5_000, ge=1, le=100_000)
    #: Read this much further back than the runner's lookback: EBS's programs (a costing run,
    #: PRC: Distribute Labor Costs) stamp LAST_UPDATE_DATE = SYSDATE when they write a row
    #: and commit when they finish, maybe an hour later; a row committed after a read with
    #: a stamp older than that read's checkpoint is found only by reading back that far.
    commit_lag: Duration = timedelta(hours=2)
    # --- Fusion ----------------------------------------------------------------------------
    #: `[connectors.<name>.fusion]`: required with flavor = "fusion", refused otherwise.
    fusion: FusionSettings | None = None

    @field_validator("db_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone_name(value)

    @field_validator("base_currency")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return currency_code(value)

    @field_validator("schema_name")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"expected a schema name like APPS, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OracleSettings:
        if self.flavor == "ebs":
            if self.url is None:
                raise ValueError(
                    'flavor "ebs" needs url, e.g. '
                    '"oracle+oracledb://apps_ro@ebs.example.com:1521/?service_name=EBS"'
                )
            if self.fusion is not None:
                raise ValueError(
                    '[connectors.<name>.fusion] is read with flavor = "fusion" only: '
                    'remove it or set flavor = "fusion"'
                )
        else:
            if self.fusion is None:
                raise ValueError(
                    'flavor "fusion" needs [connectors.<name>.fusion] (base_url, user, ...)'
                )
            ebs = sorted(k if k != "schema_name" else "schema"
                         for k in self.model_fields_set & set(EBS_KEYS))  # fmt: skip
            if ebs:
                raise ValueError(
                    f'{", ".join(ebs)}: keys of flavor "ebs"; flavor "fusion" reads its '
                    "settings from [connectors.<name>.fusion]"
                )
        return self
