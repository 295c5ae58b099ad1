"""The connector contract, checked on every installed connector kind (entry points).

A kind whose settings need values (credentials, URLs) declares a minimal example as the class
attribute `example_settings` (a dict); the others must build from {}. A read takes at most
MAX_PAGES pages of each stream, so the check stays cheap for large sources.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import entry_points
from itertools import islice
from typing import Any, get_args

import pytest

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Cursor,
    CursorKind,
    Page,
    ReadRequest,
    StreamSpec,
)
from pmo_ledger.connectors.registry import GROUP, installed_kinds
from pmo_ledger.ledger.records import DELETION_KINDS, RECORD_TYPES, Rejected

MAX_PAGES = 3
SCOPE_KINDS = {"project", "period"}
KINDS = installed_kinds()
#: Streams whose first pages may hold only scope markers (their records come later).
EMPTY_OK: dict[str, tuple[str, ...]] = {}


@contextmanager
def build(cls: type[Connector]) -> Iterator[Connector]:
    """A connector of the kind reading its sandbox when it ships one, else from its documented
    minimal settings."""
    with ExitStack() as stack:
        local = cls.sandbox()
        settings = (
            stack.enter_context(local).settings if local is not None else cls.example_settings
        )
        conn = cls(
            cls.settings_model.model_validate(dict(settings)),
            ConnectorContext(f"contract_{cls.kind}"),
        )
        try:
            yield conn
        finally:
            conn.close()


def test_the_sample_is_registered() -> None:
    """The built-in sample registers through the entry point group like any plugin."""
    assert "sample" in KINDS
    assert {ep.name for ep in entry_points(group=GROUP)} == set(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_kind_matches_its_entry_point_name(name: str) -> None:
    """`kind` is the name the entry point registers it under."""
    assert KINDS[name].kind == name


@pytest.mark.parametrize("name", sorted(KINDS))
def test_settings_build_from_the_minimal_example(name: str) -> None:
    """The settings model derives from ConnectorSettings, builds from {} or the kind's
    example, and refuses unknown keys."""
    cls = KINDS[name]
    assert issubclass(cls.settings_model, ConnectorSettings)
    example = dict(getattr(cls, "example_settings", {}))
    assert isinstance(cls.settings_model.model_validate(example), cls.settings_model)
    with pytest.raises(ValueError):
        cls.settings_model.model_validate({**example, "no_such_setting_xyz": 1})


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_stream_spec_is_valid(name: str) -> None:
    """Each declared stream is a StreamSpec under its own name, with a cursor kind, a deletion
    kind the writer knows, a documented external id and known scope kinds."""
    streams = KINDS[name].streams
    assert streams, "a connector declares at least one stream"
    for key, spec in streams.items():
        assert isinstance(spec, StreamSpec)
        assert spec.name == key
        assert spec.cursor in get_args(CursorKind)
        assert spec.deletes in DELETION_KINDS
        assert spec.external_id.strip(), f"{key}: document how the external id is made"
        assert set(spec.scopes) <= SCOPE_KINDS, key


def _check_values(record: Any, where: str) -> None:
    """Business dates are dates, technical timestamps are UTC-aware, numbers are Decimals."""
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            assert value.tzinfo is not None, f"{where}.{f.name} is a naive timestamp"
            assert f.name.endswith("_at"), f"{where}.{f.name} is a datetime, not a date"
        elif isinstance(value, float):
            raise AssertionError(f"{where}.{f.name} is a float, not a Decimal")
        elif isinstance(value, tuple):
            for item in value:
                _check_values(item, f"{where}.{f.name}")
        elif isinstance(value, Decimal):
            assert value.is_finite(), f"{where}.{f.name} is {value}"
        elif f.name.endswith(("_on", "_from", "_start", "_finish", "_date")) and value is not None:
            assert isinstance(value, date), f"{where}.{f.name} is not a date"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_full_reads_yield_pages_of_ledger_records(name: str) -> None:
    """extract() of each stream with a full ReadRequest yields Pages of ledger.records types,
    string deletions, Rejected rows and checkpoints of the declared cursor kind."""
    record_types = tuple(RECORD_TYPES.values())
    with build(KINDS[name]) as conn:
        for stream, spec in conn.streams.items():
            pages = list(islice(conn.extract(stream, ReadRequest()), MAX_PAGES))
            assert pages, f"{stream}: a full read yields at least one page"
            assert any(p.records for p in pages) or stream in EMPTY_OK.get(name, ()), (
                f"{stream}: the first {MAX_PAGES} pages of a full read hold no record"
            )
            for page in pages:
                assert isinstance(page, Page)
                for record in page.records:
                    assert isinstance(record, record_types), f"{stream}: {type(record).__name__}"
                    _check_values(record, f"{stream}.{type(record).__name__}")
                assert all(isinstance(k, str) and k for k in page.deletions)
                assert all(isinstance(r, Rejected) for r in page.rejected)
                if page.checkpoint is not None:
                    assert isinstance(page.checkpoint, Cursor)
                    assert page.checkpoint.kind == spec.cursor, stream
