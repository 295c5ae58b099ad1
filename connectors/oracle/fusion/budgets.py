"""The budgets stream of the Fusion flavor: the baselined versions of the cost budget's plan
type, each with its planning resources, their planning amounts and periodic details.

One `projectBudgets` read lists the versions (`q`: the plan type, a baselined status); each
version's `child/PlanningResources` comes with `expand=PlanningAmounts.PlanningAmountDetails`,
one call per version. An expanded child collection that says `hasMore` is read again in full
from its own path. The stream is read whole every run (a handful of versions per project):
its pages carry no checkpoint but the last, a token of Fusion's clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pmo_ledger.connectors.base import Cursor, Page
from pmo_ledger.connectors.kit.pages import unordered
from pmo_ledger.connectors.oracle.fusion import normalize as n
from pmo_ledger.connectors.oracle.fusion import values as v
from pmo_ledger.connectors.oracle.fusion.client import FusionClient
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.ledger.settings import CalendarSettings


def budget_pages(
    client: FusionClient, settings: FusionSettings, calendar: CalendarSettings
) -> Iterator[Page]:
    """A page per baselined version (a rejected row when it cannot be read)."""
    statuses = " or ".join(f"PlanVersionStatus={v.quote(x)}" for x in n.BASELINE_STATUSES)
    q = client.q(f"FinancialPlanType={v.quote(settings.budget_plan_type)}", f"({statuses})")
    started = client.server_now
    versions = [
        r
        for page in client.rows(
            "projectBudgets", order_by="PlanVersionId:asc", q=q, fields=n.BUDGET_FIELDS
        )
        for r in page
    ]

    def pages() -> Iterator[Page]:
        for version in versions:
            try:
                version_id = v.key(version, "PlanVersionId")
                resources = [
                    r
                    for page in client.rows(
                        f"projectBudgets/{version_id}/child/PlanningResources",
                        order_by="PlanningElementId:asc",
                        extra={"expand": "PlanningAmounts.PlanningAmountDetails"},
                    )
                    for r in page
                ]
                complete(client, version_id, resources)
                record = n.budget(version, resources, settings, calendar)
            except ValueError as exc:
                yield Page(rejected=[n.reject(version, "PlanVersionId", exc)])
                continue
            yield Page([record])

    return unordered(pages(), Cursor("token", started.isoformat()))


def complete(client: FusionClient, version_id: str, resources: list[dict[str, Any]]) -> None:
    """Expanded children come one page deep: a child collection that says `hasMore` is read
    again in full from its own path (in place)."""
    base = f"projectBudgets/{version_id}/child/PlanningResources"
    for res in resources:
        element = v.key(res, "PlanningElementId")
        if _more(res, "PlanningAmounts"):
            res["PlanningAmounts"] = _all(
                client,
                f"{base}/{element}/child/PlanningAmounts",
                "PlanLineId:asc",
                {"expand": "PlanningAmountDetails"},
            )
        for line in n.children(res, "PlanningAmounts"):
            if not _more(line, "PlanningAmountDetails"):
                continue
            line_id = v.key(line, "PlanLineId")
            path = f"{base}/{element}/child/PlanningAmounts/{line_id}"
            details = _all(client, f"{path}/child/PlanningAmountDetails", "PlanLineDetailId:asc")
            line["PlanningAmountDetails"] = details  # type: ignore[index]


def _more(row: Mapping[str, Any], name: str) -> bool:
    value = row.get(name)
    return isinstance(value, Mapping) and value.get("hasMore") is True


def _all(
    client: FusionClient, path: str, order_by: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    rows = [r for page in client.rows(path, order_by=order_by, extra=extra) for r in page]
    return {"items": rows}
