"""Oracle Fusion Cloud Project Management (PPM) over REST: the `flavor = "fusion"` reads of
the Oracle connector (`connectors.oracle`).

- `settings`: `FusionSettings`, the `[connectors.<name>]` keys of the Fusion flavor;
- `client`: the REST client on the kit's HttpClient (basic auth or OAuth client credentials,
  offset/limit paging on `hasMore` advancing by the returned `count`, `orderBy` always,
  Oracle's `o:errorDetails` bodies as typed errors);
- `values`: Fusion's value formats (dates, timestamps, numbers as Decimal);
- `normalize`: rows -> records; `reader`: what each stream reads (`extract`, `check`,
  `control_totals`), the functions the connector class dispatches to.

Importing this package loads nothing else: httpx loads with `client`, on first use.
"""
