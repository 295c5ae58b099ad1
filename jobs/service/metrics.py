"""`GET /metrics`: Prometheus metrics, names prefixed `pmo_ledger_`.

Everything but the API allowance is read from the ledger at scrape time, so every replica of
the service reports the same figures for the same database (sum nothing across replicas; take
one). The allowance is what this process's last run of each connector saw.

- `pmo_ledger_sync_runs_total{connector,status}`: finished runs, by how they ended;
- `pmo_ledger_sync_rows_total{connector,stream,outcome}`: rows read, written, unchanged,
  quarantined and deleted, summed over every run;
- `pmo_ledger_sync_running{connector}`: runs in progress (1 or 0, the lease);
- `pmo_ledger_last_success_timestamp_seconds{connector}`: start of the last succeeded run;
- `pmo_ledger_quarantine_open_rows{source}`: open quarantine entries;
- `pmo_ledger_open_variances{severity}`: open and acknowledged variances;
- `pmo_ledger_source_api_allowance_remaining{connector}` and `..._limit{connector}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger.queries.metrics import OUTCOMES, ledger_figures

PREFIX = "pmo_ledger_"
SEVERITIES = ("high", "medium", "low")


class LedgerCollector(Collector):
    """Reads the metrics from the ledger on every scrape."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        app = self.worker.app
        connectors = list(app.config.connectors)
        with app.reading() as s:
            figures = ledger_figures(s)
        running = {name: 0 for name in connectors}
        for connector, status, count in figures.runs:
            if status == "running":
                running[connector] = count

        total = CounterMetricFamily(
            PREFIX + "sync_runs", "Sync runs recorded, by status.", labels=["connector", "status"]
        )
        for connector, status, count in figures.runs:
            if status != "running":  # a counter never goes down: running is a gauge below
                total.add_metric([connector, status], count)
        yield total

        moved = CounterMetricFamily(
            PREFIX + "sync_rows",
            "Rows handled by sync runs, by outcome.",
            labels=["connector", "stream", "outcome"],
        )
        for connector, stream, counts in figures.stream_rows:
            for outcome in OUTCOMES:
                moved.add_metric([connector, stream, outcome], counts[outcome])
        yield moved

        yield _gauge("sync_running", "Runs in progress.", "connector", running)
        yield _gauge(
            "last_success_timestamp_seconds",
            "Start of the last succeeded run, Unix time.",
            "connector",
            {c: at.timestamp() for c, at in figures.last_success.items()},
        )
        yield _gauge(
            "quarantine_open_rows",
            "Rows waiting in quarantine.",
            "source",
            figures.open_quarantine,
        )
        variances = figures.open_variances
        yield _gauge(
            "open_variances",
            "Open and acknowledged variances.",
            "severity",
            {sev: variances.get(sev, 0) for sev in (*SEVERITIES, *variances)},
        )
        allowances = dict(self.worker.allowances)
        yield _gauge(
            "source_api_allowance_remaining",
            "Source API requests left, as this process's last run saw them.",
            "connector",
            {c: a.remaining for c, a in allowances.items()},
        )
        yield _gauge(
            "source_api_allowance_limit",
            "Source API request limit, as this process's last run saw it.",
            "connector",
            {c: a.limit for c, a in allowances.items()},
        )


def _gauge(name: str, doc: str, label: str, values: dict[str, Any]) -> GaugeMetricFamily:
    g = GaugeMetricFamily(PREFIX + name, doc, labels=[label])
    for key, value in values.items():
        g.add_metric([str(key)], float(value))
    return g


def registry(worker: Worker) -> CollectorRegistry:
    """A registry of this service's own (no process-global state)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(worker))
    return reg
