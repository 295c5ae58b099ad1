"""Cost elements (KSTAR; over OData the GL account) mapped to the ledger's cost types by
`[connectors.<name>.cost_types]`: lists and ranges, leading zeros, the unmapped label kept; and
into the ledger over the in-test RFC stub (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.sap.cost_types import CostTypes
from pmo_ledger.connectors.sap.settings import SapSettings
from pmo_ledger.jobs.sync import run_sync
from tests.connectors.sap.sap_system import app, settings, total
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_sync import KSTAR, LABOR, WBS_11, open_periods


def test_lists_and_ranges_map_cost_elements_and_the_rest_keep_their_label() -> None:
    types = CostTypes({"travel": ["474000-474999"], "software": ["476000", "0000476100"]})
    assert types.of("0000474000") == "travel"
    assert types.of("474999") == "travel"
    assert types.of("0000475000") == "KSTAR 475000"
    assert types.of("0000476100") == "software"
    assert types.of("0000476050") == "KSTAR 476050"
    assert types.of("ABC") == "KSTAR ABC"
    assert CostTypes({"x": ["A100-A199"]}).of("A150") == "x"
    assert CostTypes().of("0000400000") == "KSTAR 400000"
    first = CostTypes({"travel": ["474000"], "other": ["470000-479999"]})
    assert (first.of("474000"), first.of("474001")) == ("travel", "other")


@pytest.mark.parametrize("bad", [["474999-474000"], [""], ["474000-"], ["474000-ABC"]])
def test_a_bad_range_is_refused_when_the_configuration_loads(bad: list[str]) -> None:
    given = {k: v for k, v in settings().items() if k != "kind"}
    SapSettings(**given)  # loads without the bad mapping
    with pytest.raises(ValidationError, match="cost_types") as err:
        SapSettings(**given, cost_types={"travel": bad})
    assert err.value.error_count() == 1


def test_mapped_cost_elements_reach_the_ledger_as_cost_types(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from pmo_ledger.ledger.models import ActualLine

    year, cur, _prev, _cur_key, _ = open_periods()
    total(system, "COSP", WBS_11, "0000474000", year, {cur: "120.00"})
    total(system, "COSP", WBS_11, KSTAR, year, {cur: "80.00"})
    total(system, "COSP", WBS_11, LABOR, year, {cur: "50.00"})
    a = app(engine, tmp_path, cost_types={"travel": ["474000-474999"], "labor": ["620000"]})
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    with a.reading() as s:
        rows = dict(
            s.execute(
                select(ActualLine.cost_type, func.sum(ActualLine.amount))
                .where(ActualLine.deleted_at.is_(None))
                .group_by(ActualLine.cost_type)
            ).all()
        )
    assert rows == {
        "travel": Decimal("120.00"),
        "KSTAR 400000": Decimal("80.00"),
        "labor": Decimal("50.00"),
    }
