"""The `[connectors.<name>]` table of a Workfront connector: defaults, one way to log in, and
values Workfront would refuse refused at load with the key named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pmo_ledger.connectors.workfront.settings import WorkfrontSettings

BASE = {"base_url": "https://acme.my.workfront.com/"}


def test_defaults_as_documented() -> None:
    s = WorkfrontSettings(**BASE, api_key="k")
    assert (s.base_url, s.api_version, s.api_root) == (
        "https://acme.my.workfront.com", "19.0", "/attask/api/v19.0",
    )  # fmt: skip
    assert (s.page_size, s.hour_statuses, s.deletes, s.scan_every) == (
        2000, ["APP"], "journal", timedelta(hours=24),
    )  # fmt: skip
    assert (s.default_currency, s.project_key, s.timeout, s.auth) == ("USD", "ID", None, "api_key")


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"api_key": "k", "page_size": 2001}, "page_size"),
        ({"api_key": "k", "api_version": "v19.0"}, "api_version"),
        ({"api_key": "k", "deletes": "never"}, "deletes"),
        ({"api_key": "k", "scan_every": "24"}, "scan_every"),
        ({"api_key": "k", "default_currency": "usd"}, "default_currency"),
        ({}, "no credentials"),
        (
            {"api_key": "k", "access_token": "t"},
            "set one way to log in, not api_key and access_token",
        ),
        ({"username": "u"}, "username and password go together"),
        ({"api_key": "k", "apikey": "typo"}, "apikey"),
    ],
)
def test_bad_values_are_refused_naming_the_key(values: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        WorkfrontSettings(**BASE, **values)


def test_the_credential_key_named_on_refusal_follows_the_login_used() -> None:
    assert WorkfrontSettings(**BASE, username="u", password="p").credential_key == "password"
    assert WorkfrontSettings(**BASE, access_token="t").credential_key == "access_token"
