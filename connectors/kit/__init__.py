"""The connector kit: what every source's connector would otherwise write again.

- `pages`: pages for the runner from what a source lists: tie-safe checkpoints for ordered
  reads (`ordered_pages`), a last-page checkpoint for unordered ones (`unordered`),
  ScopeStart/ScopeEnd around a full read (`scoped`) and deletion pages (`deletion_pages`);
- `listing`: deletions of master data a source without a delete log never reports: the keys
  each full read listed, kept in the stream's token, diffed against the next read, guarded;
- `fields`: checks of settings values several connectors share (`currency_code`,
  `time_zone_name`), one call from each connector's validator;
- `errors`: vendor errors as a data table (`ErrorTable` of `ErrorRule`s over `Fault`s) that
  names the contract's typed errors (`connectors.errors`);
- `http`: an httpx client (`HttpClient`) with timeouts, `ca_bundle`, retries on 429/5xx/
  timeouts honouring `Retry-After` (tenacity), a hook for vendor error bodies, and the rows
  every HTTP source shares (`HTTP_ERRORS`).
- `sandbox_https`, `sandbox_tls`, `sandbox_clock`: what the sandboxes (the fake sources a
  connector is tested against) share: an HTTPS server for an app, its trustme certificates,
  a source clock that ticks once per write.

Import the module you use (`from pmo_ledger.connectors.kit.pages import scoped`): this
package imports nothing itself, so a connector that does not speak HTTP does not load httpx.
None of it loads SQLAlchemy. `docs/connectors/writing-a-connector.md` builds a connector on it.
"""
