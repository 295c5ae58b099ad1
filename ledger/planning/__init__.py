"""Planning: the critical path method, PERT and Monte Carlo schedule risk, and charts, as pure
functions over plain data (`model.PlanTask`, `model.PlanLink`): no database, no HTTP, no CLI.

- `calendar`: working days (`[planning]` weekends and holidays) and the timeline a schedule is
  computed on, in hundredths of a working day;
- `network`: the leaf tasks in topological order with durations and progress at a status date
  (networkx: order and cycles); `passes`: the forward and backward passes;
- `cpm`: early/late dates, floats, every critical path; `pert`: PERT figures;
- `montecarlo`: the simulation (numpy), `history`: the ledger's actual / planned ratios;
- `charts`: Gantt, S-curve and risk charts (matplotlib, Agg).

This package imports nothing heavy at import time: numpy, networkx and matplotlib are loaded
inside the functions that need them, so the CLI starts without them.
"""
