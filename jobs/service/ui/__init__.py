"""The PMO dashboard under `/ui` of `pmo-ledger serve` (issue 24): server-rendered pages
(Jinja2, autoescaped) with htmx (vendored in static/, with its licence) for partial updates;
every page reads without JavaScript.

- `/ui` portfolio: every project's RAG, budget, actual, forecast, CPI/SPI and open variances,
  grouped portfolio > program > project, filtered by GET parameters, riskiest first, paged;
- `/ui/projects/{code}`: S-curve, EVM, Gantt with critical path and PERT, open variances with
  their ledger lines, identities across sources, sync health;
- `/ui/variances` and `/ui/variances/{id}`: filters, history, acknowledge (write);
- `/ui/operations` and `/ui/runs/{id}`: connectors, last runs, quarantine, drift, trigger (write)
  and the run's progress;
- access: jobs.service.ui.session (sign-in, cookie, CSRF), jobs.service.gate, headers.
"""
