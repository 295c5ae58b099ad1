"""`pmo-ledger serve`: scheduler (schedule), syncs and reconciles (worker), HTTP API (api,
schemas, metrics), webhooks (notify), and the process around them (serve)."""
