"""Settings of the Salesforce connector (`kind = "salesforce"`): login, transport, streams.

Authentication is chosen by which credentials are present (or `auth`, to be explicit):

=====================  ==================================================================
auth                   keys
=====================  ==================================================================
password               username, password, security_token (SOAP login; token may be "")
oauth_password         username, password, consumer_key, consumer_secret
client_credentials     consumer_key, consumer_secret (a My Domain login_url)
jwt                    username, consumer_key, private_key (or private_key_file)
access_token           instance_url, access_token (no re-login: a 401 stops the run)
=====================  ==================================================================

`login_url` is any host that answers the login endpoints (login.salesforce.com,
test.salesforce.com for sandboxes, a My Domain, a private-connect host, `pmo-ledger sandbox`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.kit.fields import currency_code
from pmo_ledger.connectors.salesforce.condition import condition_problem

AuthKind = Literal["password", "oauth_password", "client_credentials", "jwt", "access_token"]
_VERSION = re.compile(r"\d{2,3}\.0")
_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")


class StreamSettings(ConnectorSettings):
    """`[connectors.<name>.streams.<stream>]`: switch a stream off, read another object,
    rename fields (role = "Field__c" or "Lookup__r.Field__c") or unset an optional one
    (role = ""), add a SOQL condition."""

    enabled: bool = True
    object: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    #: role -> field path; "" unsets an optional role (TOML has no null), like portfolio_field.
    fields: dict[str, str] = Field(default_factory=dict)
    #: ANDed, in parentheses, to every read of the stream. Trusted: SOQL the operator writes;
    #: checked to be one balanced condition (condition.py), which guards against mistakes.
    where: str | None = None

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{k} = {v!r}" for k, v in value.items() if v and not _FIELD_PATH.fullmatch(v)]
        if bad:
            raise ValueError(f'not a field path: {", ".join(bad)} ("" unsets the role)')
        return value

    @field_validator("where")
    @classmethod
    def _one_condition(cls, value: str | None) -> str | None:
        problem = condition_problem(value) if value else None  # "" (TOML's unset): no filter
        if problem:
            raise ValueError(f"not one SOQL condition: {value!r} {problem}")
        return value


class SalesforceSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "salesforce"` connector."""

    # --- login ---------------------------------------------------------------------------
    auth: AuthKind | None = None
    login_url: str = "https://login.salesforce.com"
    #: JWT audience; default: login_url (Salesforce wants login/test.salesforce.com or a My Domain).
    jwt_audience: str | None = None
    instance_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key: SecretStr | None = None
    #: The key's PEM file (in a config file, `private_key_file` is read into `private_key`).
    private_key_file: Path | None = None
    access_token: SecretStr | None = None
    api_version: str = "59.0"
    # --- transport -----------------------------------------------------------------------
    #: PEM file of the CAs to trust (corporate proxy, sandbox); wins over REQUESTS_CA_BUNDLE.
    ca_bundle: Path | None = None
    #: Retries of a call that timed out or answered 5xx, with exponential backoff.
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    #: Records per REST page asked for (Sforce-Query-Options batchSize, 200-2000).
    page_size: int = Field(default=2_000, ge=200, le=2_000)
    #: Share of the daily API allowance left to other integrations; below it the run stops.
    api_headroom: Decimal = Field(default=Decimal("0.20"), ge=0, lt=1)
    #: Full reads of more rows than this use Bulk API 2.0 (0: never).
    bulk_threshold: int = Field(default=100_000, ge=0)
    bulk_page_size: int = Field(default=50_000, ge=1)
    bulk_poll_seconds: float = Field(default=2.0, ge=0, le=60)
    # --- the org -------------------------------------------------------------------------
    #: Multi-currency org (records carry CurrencyIsoCode); else every amount is in `currency`.
    multi_currency: bool = True
    currency: str | None = None
    #: The org's corporate currency: DatedConversionRate and CurrencyType are relative to it.
    corporate_currency: str = "USD"
    #: Rate types the two FX streams store (`[ledger] rate_type` picks the one that converts).
    dated_rate_type: str = "corporate"
    static_rate_type: str = "salesforce_static"
    #: Where a project's portfolio and program come from (None: not set by this source).
    portfolio_field: str | None = "pse__Region__r.Name"
    program_field: str | None = "pse__Practice__r.Name"
    #: pse__Budget__c statuses that count; the earliest counting budget is the baseline.
    budget_statuses: list[str] = Field(default_factory=lambda: ["Approved"], min_length=1)
    #: Rates of resources take effect from this date when the resource has no start date.
    rates_from: date = date(2000, 1, 1)
    streams: dict[str, StreamSettings] = Field(default_factory=dict)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError(f"expected a version like 59.0 (no leading v), got {value!r}")
        return value

    @field_validator("login_url", "instance_url", "jwt_audience")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("https://"):
            raise ValueError(f"must be an https:// URL (Salesforce speaks only https): {value!r}")
        return value.rstrip("/")

    @field_validator("currency", "corporate_currency")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return currency_code(value, "USD")

    @field_validator("portfolio_field", "program_field")
    @classmethod
    def _field_path(cls, value: str | None) -> str | None:
        if value == "":
            return None  # TOML has no null: "" leaves portfolio / program unset
        if value is not None and not _FIELD_PATH.fullmatch(value):
            raise ValueError(f"not a field path: {value!r}")
        return value

    @field_validator("ca_bundle", "private_key_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SalesforceSettings:
        auth = self.auth or self.inferred_auth()
        needs: dict[str, tuple[str, ...]] = {
            "password": ("username", "password", "security_token"),
            "oauth_password": ("username", "password", "consumer_key", "consumer_secret"),
            "client_credentials": ("consumer_key", "consumer_secret"),
            "jwt": ("username", "consumer_key", "private_key"),
            "access_token": ("instance_url", "access_token"),
        }
        if auth is None:
            raise ValueError(
                "no credentials: set username, password and security_token; or consumer_key "
                "with consumer_secret or private_key_file; or instance_url and access_token"
            )
        missing = [
            k
            for k in needs[auth]
            if getattr(self, k) is None and not (k == "private_key" and self.private_key_file)
        ]
        if missing:
            raise ValueError(f"auth {auth} needs {', '.join(missing)}")
        if not self.multi_currency and self.currency is None:
            raise ValueError("a single-currency org (multi_currency = false) needs `currency`")
        return self

    def inferred_auth(self) -> AuthKind | None:
        """The login flow the present credentials select (first match wins)."""
        if self.auth is not None:
            return self.auth
        if self.access_token is not None:
            return "access_token"
        if self.private_key is not None or self.private_key_file is not None:
            return "jwt"
        if self.username and self.password is not None and self.consumer_secret is not None:
            return "oauth_password"
        if self.username and self.password is not None and self.security_token is not None:
            return "password"
        if self.consumer_key and self.consumer_secret is not None:
            return "client_credentials"
        return None

    def stream(self, name: str) -> StreamSettings:
        """The stream's settings (defaults when the table is absent)."""
        return self.streams.get(name) or StreamSettings()
