"""Builders of small test workbooks: filled templates (XlsxWriter), the way a person's file
reaches the connector, and a connector reading them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pmo_ledger.connectors.base import ConnectorContext, Page, ReadRequest
from pmo_ledger.connectors.excel import ExcelConnector, ExcelSettings
from pmo_ledger.connectors.excel.settings import DEFAULT_COST_TYPES
from pmo_ledger.connectors.excel.template import write_template


def budget(project: str, cost_type: str, period: str, amount: Any, **kw: Any) -> dict[str, Any]:
    """A Budgets row of version Current in USD unless told otherwise."""
    row = {"project": project, "cost_type": cost_type, "period": period,
           "amount": _number(amount),
           "currency": "USD", "version": "Current"}  # fmt: skip
    row.update(kw)
    return row


def budgets_file(path: Path, *rows: dict[str, Any]) -> Path:
    write_template(path, "budgets", DEFAULT_COST_TYPES, {"Budgets": list(rows)})
    return path


def plan_file(path: Path, tasks: list[dict[str, Any]], links: list[dict[str, Any]]) -> Path:
    write_template(path, "plan", DEFAULT_COST_TYPES, {"Plan": tasks, "Dependencies": links})
    return path


def task(task_id: str, name: str, o: str, m: str, p: str, **kw: Any) -> dict[str, Any]:
    """A Plan row of project PRJ-0001 with its three-point estimate in days."""
    row = {"task": task_id, "project": "PRJ-0001", "name": name,
           "optimistic": Decimal(o), "most_likely": Decimal(m), "pessimistic": Decimal(p)}  # fmt: skip
    row.update(kw)
    return row


def connector(path: Path, **settings: Any) -> ExcelConnector:
    return ExcelConnector(ExcelSettings(path=str(path), **settings), ConnectorContext("xl"))


def read(c: ExcelConnector, stream: str, checkpoint: Any = None) -> list[Page]:
    return list(c.extract(stream, ReadRequest(None, checkpoint)))


def records(pages: list[Page]) -> list[Any]:
    return [r for p in pages for r in p.records]


def problems(pages: list[Page]) -> dict[str | None, list[str]]:
    """Rejected key -> its messages."""
    return {r.external_id: r.payload["problems"] for p in pages for r in p.rejected}


def deletions(pages: list[Page]) -> list[str]:
    return [k for p in pages for k in p.deletions]


def _number(value: Any) -> Any:
    """Text that is a number as a Decimal (written as a number cell), other text as text."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value
