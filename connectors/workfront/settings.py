"""Settings of the Workfront connector (`kind = "workfront"`): the instance, the credentials,
the transport and what counts.

Authentication is chosen by which credentials are present (one of them):

==============  ========================================================================
credentials     how they travel
==============  ========================================================================
api_key         the `apiKey` request parameter on every call (as Workfront documents it)
username +      `POST /login?username=..&password=..` once (the documented form), then the
password        `sessionID` header; logged in again once when
                the session expires mid-run
access_token    an OAuth2 access token, which Workfront issues as a session ID: sent as
                the `sessionID` header; it cannot be renewed by the connector
==============  ========================================================================
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.kit.fields import currency_code
from pmo_ledger.ledger.settings import Duration

AuthKind = Literal["api_key", "password", "access_token"]
_VERSION = re.compile(r"\d{1,2}\.\d")


class WorkfrontSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "workfront"` connector."""

    # --- the instance and the credentials ----------------------------------------------
    #: e.g. https://acme.my.workfront.com (paths are /attask/api/v{api_version}/...).
    base_url: str
    api_version: str = "19.0"
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    # --- transport -------------------------------------------------------------------------
    #: PEM file of the CAs to trust (a corporate proxy, the sandbox); the only trust anchor.
    ca_bundle: Path | None = None
    #: Read timeout of one call (None: the `[connectors]` read timeout, 120 s by default).
    timeout: Duration | None = None
    #: Rows per search page ($$LIMIT); Workfront refuses more than 2000.
    page_size: int = Field(default=2000, ge=2, le=2000)
    #: Tries of a call that timed out or answered 429 / 5xx (Retry-After is waited out).
    max_attempts: int = Field(default=5, ge=1, le=10)
    # --- what counts -------------------------------------------------------------------------
    #: The currency of projects whose `currency` is null (Workfront's base currency).
    default_currency: str = "USD"
    #: HOUR statuses that count as actuals (APP: approved; SUB submitted, REJ rejected); an
    #: hour leaving them is a deletion.
    hour_statuses: list[str] = Field(default_factory=lambda: ["APP"], min_length=1)
    #: How deleted hours and expenses are found: the journal (JRNLE) or a full listing.
    deletes: Literal["journal", "scan"] = "journal"
    #: With deletes = "scan": how often the hours and expenses are listed in full.
    scan_every: Duration = timedelta(hours=24)
    #: Predecessors and assignments no longer listed are deleted; a read that would delete
    #: more than this share of those the last read listed, and more than
    #: `max_vanished_min`, stops that stream instead and deletes none.
    max_vanished_share: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    max_vanished_min: int = Field(default=5, ge=0)
    #: The PROJ field whose value names a project in the ledger (the key link rules match):
    #: its ID, or e.g. "referenceNumber" or a custom field "DE:PSA Project Code". A project
    #: whose field is empty is named by its ID.
    project_key: str = Field(default="ID", min_length=1)
    #: Custom TASK fields holding optimistic and pessimistic durations in days (e.g.
    #: "DE:Optimistic Duration"); with durationMinutes as the most likely, PERT has its three
    #: points. None: not read.
    optimistic_field: str | None = None
    pessimistic_field: str | None = None
    #: The current USER / ROLE costPerHour take effect from this date. Workfront does keep
    #: effective-dated cost rates and a currency per role; the connector reads neither (the
    #: current rate, in default_currency, values hours without actualCost at any date).
    rates_from: date = date(2000, 1, 1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"expected a URL like https://acme.my.workfront.com, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError(f"expected a version like 19.0 (no leading v), got {value!r}")
        return value

    @field_validator("default_currency")
    @classmethod
    def _code(cls, value: str) -> str:
        return currency_code(value, "USD")

    @field_validator("ca_bundle")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("scan_every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("scan_every must be longer than 0")
        return value

    @model_validator(mode="after")
    def _one_login(self) -> WorkfrontSettings:
        given = [k for k in ("api_key", "access_token") if getattr(self, k) is not None] + (
            ["username"] if self.username or self.password is not None else []
        )
        if not given:
            raise ValueError(
                "no credentials: set api_key, or username and password, or access_token"
            )
        if len(given) > 1:
            raise ValueError(f"set one way to log in, not {' and '.join(given)}")
        if given == ["username"] and not (self.username and self.password is not None):
            raise ValueError("username and password go together: set both")
        return self

    @property
    def auth(self) -> AuthKind:
        """The credentials in use."""
        if self.api_key is not None:
            return "api_key"
        if self.access_token is not None:
            return "access_token"
        return "password"

    @property
    def credential_key(self) -> str:
        """The key an operator fixes when Workfront refuses the credentials."""
        return {"api_key": "api_key", "access_token": "access_token", "password": "password"}[
            self.auth
        ]

    @property
    def api_root(self) -> str:
        return f"/attask/api/v{self.api_version}"
