"""Ledger URLs shown masked whatever their form (issue 18 item 10): userinfo passwords with `@`
and `:`, secret query parameters, SQLite paths untouched; and the engine connects with the
password the operator wrote."""

from __future__ import annotations

import pytest

from pmo_ledger.ledger.urls import engine_url, mask_url, scrub, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db.example/ledger", "postgresql://u:***@db.example/ledger"),
        ("postgresql://u:p@ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
        ("postgresql://u:a:b@c@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgresql://u:a/b@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:p%40ss@host/db", "postgresql://u:***@host/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        ("postgresql://host/db?sslmode=require&password=pw1&pwd=pw2&passwd=pw3",
         "postgresql://host/db?sslmode=require&password=***&pwd=***&passwd=***"),
        ("postgresql://u:x@host/db?token=t&secret=s&api_key=k&sslpassword=sp&application_name=a",
         "postgresql://u:***@host/db?token=***&secret=***&api_key=***&sslpassword=***"
         "&application_name=a"),
        ("sqlite:///ledger.db?password=hunter2", "sqlite:///ledger.db?password=***"),
        ("sqlite:////srv/a@b:c/ledger.db", "sqlite:////srv/a@b:c/ledger.db"),
        ("sqlite:///pmo-ledger.db", "sqlite:///pmo-ledger.db"),
        ("sqlite://", "sqlite://"),
        ("not a url", "not a url"),
    ],
)  # fmt: skip
def test_a_url_is_shown_with_its_secrets_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_the_secrets_of_a_url_are_scrubbed_from_text_as_written_and_decoded() -> None:
    url = "postgresql://u:p%40ss@host/db?password=q%2Bw&sslmode=disable"
    assert url_secrets(url) == ["p%40ss", "q%2Bw", "p@ss", "q+w"]
    text = 'FATAL: password "p@ss" rejected; url postgresql://u:p%40ss@host; q+w'
    assert scrub(text, url) == 'FATAL: password "***" rejected; url postgresql://u:***@host; ***'
    assert url_secrets("postgresql://u:s3cr@t@host/db") == ["s3cr%40t", "s3cr@t"]
    assert url_secrets("sqlite:////srv/a@b:c/ledger.db") == []


def test_a_raw_at_in_the_password_reaches_the_engine_encoded() -> None:
    assert engine_url("postgresql://u:p@ss@127.0.0.1/db") == "postgresql://u:p%40ss@127.0.0.1/db"
    assert engine_url("postgresql://u:pw@h/db?x=1") == "postgresql://u:pw@h/db?x=1"
    assert engine_url("sqlite:////srv/a@b/ledger.db") == "sqlite:////srv/a@b/ledger.db"
