"""Settings of the Oracle connector's Fusion flavor (`kind = "oracle"`, `flavor = "fusion"`):
the pod, the credentials, the transport and what counts.

Credentials, one of (Fusion accepts both on its REST resources):

==================  ======================================================================
keys                how they travel
==================  ======================================================================
username +          HTTP basic auth on every call (a Fusion user; SSO-only users cannot
password            use it: they need OAuth)
token_url +         OAuth 2.0 client credentials (an OCI IAM / IDCS confidential app):
client_id +         a bearer token from `token_url` with `scope`, fetched again when it
client_secret       expires or Fusion answers 401
==================  ======================================================================

Secrets come through `${ENV}` or a `*_file` key like every other secret
(`password_file = "/run/secrets/fusion"`, `client_secret_file = ...`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.kit.fields import CURRENCY, currency_code
from pmo_ledger.ledger.settings import Duration

_VERSION = re.compile(r"\d{1,2}\.\d{1,2}\.\d{1,2}\.\d{1,2}")
#: The most rows one GET of a Fusion collection returns, whatever `limit` asks (the fact
#: sheet's section 4.2 and 7: the server caps `limit` silently; a third-party write-up reports
#: 500 asked, 499 answered, so the client never trusts its own limit: it advances by `count`).
SERVER_LIMIT = 500


class FusionSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of an Oracle connector with `flavor = "fusion"` (the
    flavor key itself belongs to the connector's own settings, `connectors.oracle`)."""

    # --- the pod and the credentials -------------------------------------------------------
    #: e.g. https://acme.fa.us2.oraclecloud.com (resources are under
    #: /fscmRestApi/resources/{api_version}/).
    base_url: str
    api_version: str = "11.13.18.05"
    username: str | None = None
    password: SecretStr | None = None
    #: OAuth client credentials: the token endpoint of the identity domain
    #: (https://idcs-<id>.identity.oraclecloud.com/oauth2/v1/token), the app's id and secret,
    #: and the scope Fusion's resource app expects (e.g.
    #: "urn:opc:resource:fa:instanceid=<id>urn:opc:resource:consumer::all").
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    # --- transport ---------------------------------------------------------------------------
    #: PEM file of the CAs to trust (a corporate proxy, the sandbox); the only trust anchor.
    ca_bundle: Path | None = None
    #: Read timeout of one call (None: the `[connectors]` read timeout, 120 s by default).
    timeout: Duration | None = None
    #: Rows asked per GET (`limit`). Fusion caps it silently (SERVER_LIMIT); the client pages
    #: by the `count` each answer reports, so a larger value only costs nothing.
    page_size: int = Field(default=SERVER_LIMIT, ge=1, le=SERVER_LIMIT)
    #: Tries of a call that timed out or answered 429 / 5xx (Retry-After is waited out).
    max_attempts: int = Field(default=5, ge=1, le=10)
    #: Sent as `REST-Framework-Version`: the `q` expressions read here (`and`, `or`,
    #: parentheses) need version 2 or later (version 1 knows only `;`-joined conditions).
    framework_version: str = Field(default="4", pattern=r"^[2-9]$")
    # --- what counts -------------------------------------------------------------------------
    #: The cost amount read from `projectCosts`: raw cost, or burdened cost (raw plus
    #: overhead burdens), both in the project currency.
    cost: Literal["raw", "burdened"] = "raw"
    #: Expenditure categories whose quantity is labor hours (other quantities can be miles,
    #: units or currency and are kept as `quantity` with their unit of measure).
    labor_categories: list[str] = Field(default_factory=lambda: ["Labor"], min_length=1)
    #: The financial plan type whose baselined versions are the project budget.
    budget_plan_type: str = Field(default="Approved Cost Budget", min_length=1)
    #: The ledger's base currency: a cost whose project ledger currency is this keeps
    #: Fusion's own amount in it as its base amount (`fx_source = 'source'`); None: the
    #: ledger converts every cost with its rates.
    base_currency: str | None = None
    #: `fx_rates` reads `currencyRates` of this conversion type (e.g. "Corporate") for the
    #: pairs `fx_currencies` -> base_currency (None: no fx stream).
    fx_rate_type: str | None = None
    fx_currencies: list[str] = Field(default_factory=list)
    #: How far back the first fx read starts (days before today, on Fusion's clock).
    fx_days: int = Field(default=400, ge=1, le=3660)

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"expected a URL like https://acme.fa.us2.oraclecloud.com: {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError(f"expected a REST version like 11.13.18.05, got {value!r}")
        return value

    @field_validator("base_currency")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return currency_code(value, "USD")

    @field_validator("fx_currencies")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not CURRENCY.fullmatch(c)]
        if bad:
            raise ValueError(f"expected ISO currency codes like EUR, got {bad!r}")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _one_login(self) -> FusionSettings:
        basic = self.username is not None or self.password is not None
        oauth = any(v is not None for v in (self.token_url, self.client_id, self.client_secret))
        if basic and oauth:
            raise ValueError(
                "set one way to log in: username and password, or token_url, client_id "
                "and client_secret"
            )
        if not basic and not oauth:
            raise ValueError(
                "no credentials: set username and password, or token_url, client_id and "
                "client_secret"
            )
        if basic and (not self.username or self.password is None):
            raise ValueError("username and password go together: set both")
        if oauth and not (self.token_url and self.client_id and self.client_secret is not None):
            raise ValueError("OAuth needs token_url, client_id and client_secret: set all three")
        if self.fx_rate_type is not None and (not self.base_currency or not self.fx_currencies):
            raise ValueError("fx_rate_type needs base_currency and fx_currencies")
        return self

    @property
    def auth(self) -> Literal["basic", "oauth"]:
        """The credentials in use."""
        return "basic" if self.username is not None else "oauth"

    @property
    def credential_keys(self) -> str:
        """The keys an operator fixes when Fusion refuses the credentials."""
        return "username/password" if self.auth == "basic" else "client_id/client_secret"

    @property
    def api_root(self) -> str:
        """The path every resource is under."""
        return f"/fscmRestApi/resources/{self.api_version}"
