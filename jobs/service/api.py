"""The HTTP API of `pmo-ledger serve` (FastAPI; the OpenAPI spec is at `/openapi.json`).

- `GET /healthz` liveness; `GET /readyz` database reachable and migrations at head (503 if not);
- `GET /metrics` Prometheus (jobs.service.metrics);
- `GET /runs`, `GET /runs/{id}`; `POST /syncs/{connector}` (202 with the run id; 409 with the
  running run's id when the connector's lease is held, and 409 for a disabled connector);
- `GET /variances`, `GET /variances/{id}/history`, `POST /variances/{id}/ack`;
- `/ui`: the PMO dashboard (jobs.service.ui), under the same token rules with a browser session.

Write endpoints need `Authorization: Bearer <[service] api_token>`, compared in constant time;
with no token configured they are refused (403). Read endpoints need it too when
`read_requires_token`. `/healthz`, `/readyz` and `/metrics` are always open (probes and
scrapers). The gate (jobs.service.gate) checks the token and the body's size from the headers,
before the body is read; the endpoints' own checks stay for the spec and as a second guard.
A body the models refuse is a 422 naming its field, whatever it holds (NaN, 1e999, an unpaired
surrogate): the error never echoes the value back.
"""

# No `from __future__ import annotations`: FastAPI reads the parameters' annotations, and
# the connector path parameter's names are a local of create_api.

import hmac
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DataError, SQLAlchemyError

from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.jobs.app import SchemaNotCurrentError
from pmo_ledger.jobs.service import schemas
from pmo_ledger.jobs.service.gate import Gate
from pmo_ledger.jobs.service.metrics import registry
from pmo_ledger.jobs.service.ui import routes as ui
from pmo_ledger.jobs.service.ui.session import Sessions
from pmo_ledger.jobs.service.worker import ServiceStopping, Worker
from pmo_ledger.jobs.sync import AlreadyRunning, ConnectorDisabled
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries import runs, variances
from pmo_ledger.ledger.reconcile.store import acknowledge

RunStatus = Literal["running", "succeeded", "partial", "failed", "interrupted", "abandoned"]
VarianceStatus = Literal["open", "acknowledged", "resolved"]
Severity = Literal["high", "medium", "low"]
#: Ids are INTEGER columns.
MAX_ID = 2**31 - 1
#: The most variances one page of `GET /variances` holds.
MAX_PAGE = 500


def _package_version() -> str:
    try:
        return version("pmo-ledger")
    except PackageNotFoundError:
        return "0"


def _problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": schemas.Problem, "description": description}}


UNAUTHORIZED = {
    **_problem(401, "Missing or wrong bearer token"),
    **_problem(403, "Write endpoints are off: no api_token is configured"),
}
UNAVAILABLE = {
    **_problem(503, "The ledger database is unreachable or not at the current schema"),
    **_problem(400, "The database refused a value"),
}
#: Text parameters: anything but NUL (PostgreSQL text cannot hold it).
TEXT = r"^[^\x00]*$"


def _printable(value: object) -> str | int:
    """A location part or message as JSON can carry it: an unpaired surrogate escaped."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def invalid_fields(exc: RequestValidationError) -> list[dict[str, Any]]:
    """What a 422 says: each error's type, the field's location and the message, never the
    value (it may be NaN, infinite or an unpaired surrogate, which JSON cannot carry back)."""
    return [
        {
            "type": error["type"],
            "loc": [_printable(part) for part in error["loc"]],
            "msg": _printable(error["msg"]),
        }
        for error in exc.errors()
    ]


def create_api(worker: Worker, scheduler_running: Callable[[], bool] = lambda: False) -> FastAPI:
    """The API over `worker` (its App, its runs)."""
    app = worker.app
    cfg = app.config.service
    connectors = sorted(app.config.connectors)
    bearer = HTTPBearer(auto_error=False, description="[service] api_token")
    metrics = registry(worker)

    def token_ok(credentials: HTTPAuthorizationCredentials | None) -> None:
        assert cfg.api_token is not None
        expected = cfg.api_token.get_secret_value().encode()
        given = credentials.credentials.encode() if credentials is not None else b""
        if credentials is None or not hmac.compare_digest(given, expected):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    def write_access(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if cfg.api_token is None:
            raise HTTPException(403, "write endpoints are off: set [service] api_token")
        token_ok(credentials)

    def read_access(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        token_ok(credentials)

    reads: list[Any] = [Depends(read_access)] if cfg.read_requires_token else []
    read_errors = {**(UNAUTHORIZED if cfg.read_requires_token else {}), **UNAVAILABLE}
    api = FastAPI(
        title="pmo-ledger",
        version=_package_version(),
        description="Operator API of the pmo-ledger service: runs, syncs, variances, health.",
    )
    sessions = Sessions(cfg.api_token)
    api.add_middleware(
        Gate,
        token=cfg.api_token,
        read_requires_token=cfg.read_requires_token,
        max_body_bytes=cfg.max_body_bytes,
        sessions=sessions,
    )

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": invalid_fields(exc)}, status_code=422)

    @api.exception_handler(SQLAlchemyError)
    async def _database(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        reason = app.scrub(" ".join(str(getattr(exc, "orig", None) or exc).split()))
        return JSONResponse({"detail": f"ledger database error: {reason}"}, status_code=503)

    @api.exception_handler(DataError)
    async def _bad_value(_request: Request, exc: DataError) -> JSONResponse:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        return JSONResponse({"detail": f"the database refused a value: {reason}"}, 400)

    @api.exception_handler(SchemaNotCurrentError)
    async def _schema(_request: Request, exc: SchemaNotCurrentError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    # --- probes ----------------------------------------------------------------------------

    @api.get("/healthz", tags=["health"])
    def healthz() -> schemas.Health:
        """Liveness: the process answers."""
        return schemas.Health(
            status="ok",
            scheduler="running" if scheduler_running() else "stopped",
            running_runs=worker.running(),
        )

    @api.get(
        "/readyz",
        tags=["health"],
        responses={503: {"model": schemas.Ready, "description": "Not ready"}},
    )
    def readyz(response: Response) -> schemas.Ready:
        """Readiness: the ledger database answers and is migrated to the code's head, and the
        service is not stopping."""
        try:
            current = migrate.at_head(app.engine)
        except SQLAlchemyError as exc:
            response.status_code = 503
            reason = app.scrub(" ".join(str(getattr(exc, "orig", None) or exc).split()))
            return schemas.Ready(
                status="not ready", database="unreachable", schema_current=False, detail=reason
            )
        if not current:
            response.status_code = 503
            return schemas.Ready(
                status="not ready",
                database="reachable",
                schema_current=False,
                detail="run: pmo-ledger db upgrade",
            )
        if worker.stopping:
            response.status_code = 503
            return schemas.Ready(
                status="not ready", database="reachable", schema_current=True, detail="stopping"
            )
        return schemas.Ready(status="ready", database="reachable", schema_current=True)

    @api.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def get_metrics() -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    # --- runs ------------------------------------------------------------------------------

    @api.get("/runs", tags=["runs"], dependencies=reads, responses=read_errors)
    def list_runs(
        connector: Annotated[str | None, Query(max_length=100, pattern=TEXT)] = None,
        status: RunStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[schemas.RunOut]:
        """Sync runs, newest first."""
        with app.reading() as s:
            found = runs.list_runs(s, connector=connector, status=status, limit=limit)
        return [schemas.RunOut.model_validate(r, from_attributes=True) for r in found]

    @api.get(
        "/runs/{run_id}",
        tags=["runs"],
        dependencies=reads,
        responses={**read_errors, **_problem(404, "No such run")},
    )
    def get_run(run_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> schemas.RunDetail:
        """One run with its figures per stream."""
        with app.reading() as s:
            run = runs.run_with_streams(s, run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        return schemas.RunDetail.model_validate(run, from_attributes=True)

    @api.post(
        "/syncs/{connector}",
        tags=["runs"],
        status_code=202,
        dependencies=[Depends(write_access)],
        responses={
            **UNAUTHORIZED,
            **UNAVAILABLE,
            **_problem(404, "No such connector"),
            409: {
                "model": schemas.Conflict,
                "description": "A run of the connector is going, or the connector is disabled",
            },
            **_problem(400, "The connector cannot run as configured"),
        },
    )
    def trigger_sync(
        connector: Annotated[
            str, Path(max_length=100, json_schema_extra={"enum": connectors} if connectors else {})
        ],
        body: schemas.SyncRequest | None = None,
    ) -> Any:
        """Start a sync of `connector` now; returns its run id. 409 while one is running, and
        for a connector with `enabled = false` (nothing runs, no run row is written)."""
        if connector not in app.config.connectors:
            raise HTTPException(404, f"no connector {connector!r} is configured")
        request = body or schemas.SyncRequest()
        app.require_head()
        try:
            started = worker.start(connector, full=request.full, since=request.since, trigger="api")
        except AlreadyRunning as exc:
            conflict = schemas.Conflict(detail=str(exc), run_id=exc.run_id, reason="running")
            return JSONResponse(conflict.model_dump(), status_code=409)
        except ConnectorDisabled as exc:
            conflict = schemas.Conflict(detail=str(exc), run_id=None, reason="disabled")
            return JSONResponse(conflict.model_dump(), status_code=409)
        except ServiceStopping as exc:
            raise HTTPException(503, str(exc)) from None
        except ConnectorConfigError as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            worker.submit(started)
        except ServiceStopping as exc:
            raise HTTPException(503, str(exc)) from None
        return schemas.SyncStarted(
            run_id=started.run_id,
            connector=connector,
            status="running",
            url=f"/runs/{started.run_id}",
        )

    # --- variances -------------------------------------------------------------------------

    @api.get("/variances", tags=["variances"], dependencies=reads, responses=read_errors)
    def list_variances(
        status: VarianceStatus | None = None,
        open_only: Annotated[
            bool, Query(alias="open", description="Only open and acknowledged ones.")
        ] = False,
        project: Annotated[str | None, Query(max_length=255, pattern=TEXT)] = None,
        rule: Annotated[str | None, Query(max_length=40, pattern=TEXT)] = None,
        severity: Severity | None = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description=f"Rows per page (at most {MAX_PAGE}).")
        ] = 100,
        offset: Annotated[
            int, Query(ge=0, le=MAX_ID, description="Rows of the filtered list to skip.")
        ] = 0,
    ) -> schemas.VariancePage:
        """Variances, most severe and newest first, a page at a time: `items` from `offset`
        on and `total`, how many the filters match (the next page starts at offset + limit
        while that is below total)."""
        with app.reading() as s:
            page = variances.list_variances(
                s,
                status=status,
                open_only=open_only,
                project=project,
                rule=rule,
                severity=severity,
                limit=limit,
                offset=offset,
            )
        return schemas.VariancePage(
            items=[schemas.VarianceOut.model_validate(v, from_attributes=True) for v in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @api.get(
        "/variances/{variance_id}/history",
        tags=["variances"],
        dependencies=reads,
        responses={**read_errors, **_problem(404, "No such variance")},
    )
    def variance_history(
        variance_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    ) -> schemas.VarianceHistoryOut:
        """A variance's history: each step (opened, updated, escalated, acknowledged,
        resolved, reopened, carried) with its time, oldest first."""
        with app.reading() as s:
            history = variances.variance_history(s, variance_id)
        if history is None:
            raise HTTPException(404, f"no variance {variance_id}")
        return schemas.VarianceHistoryOut.model_validate(history, from_attributes=True)

    @api.post(
        "/variances/{variance_id}/ack",
        tags=["variances"],
        dependencies=[Depends(write_access)],
        responses={
            **UNAUTHORIZED,
            **UNAVAILABLE,
            **_problem(404, "No such variance"),
            **_problem(409, "The variance is resolved"),
        },
    )
    def ack_variance(
        variance_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: schemas.AckRequest
    ) -> schemas.VarianceOut:
        """Acknowledge a variance with a note: it stays listed until resolved, and comes back
        to open if it gets worse."""
        with app.transaction() as s:
            try:
                v = acknowledge(s, variance_id, body.note, body.by or "api", utcnow())
            except LookupError as exc:
                raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from None
            except ValueError as exc:
                raise HTTPException(409, str(exc)) from None
            s.flush()
            return schemas.VarianceOut.model_validate(v, from_attributes=True)

    ui.mount(api, worker, sessions, _package_version())
    return api
