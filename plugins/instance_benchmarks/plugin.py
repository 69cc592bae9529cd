"""The results inside the Airflow UI: the report as a dashboard, and a read-only JSON and CSV API.

Mounted by the api-server under /benchmarks (AirflowPlugin.fastapi_apps) and linked from the
UI's navigation (external_views). Airflow mounts a plugin's app with `app.mount()`, so its own
authentication does not reach these routes (apache/airflow#72655): the app requires an
authenticated Airflow user itself, through the same dependency the core API uses
(`requires_access_view`, the WEBSITE view every UI user has). Everything here only reads, but for the counts of
which types users ask about (demand.py: the weekly plan's demand signal) and the contributed results it receives
(submissions.py).
"""

from __future__ import annotations

import io
import logging
import re
import urllib.parse
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from instance_benchmarks import BENCHMARK_DAG_ID, api_reads, rate_limits
from instance_benchmarks.params import INSTANCE_TYPE, REGION
from instance_benchmarks.results import ResultStore  # at runtime: FastAPI reads the annotations
from instance_benchmarks.submissions import MAX_BYTES as MAX_SUBMISSION_BYTES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REPORT_DATE = re.compile(r"latest|\d{4}-\d{2}-\d{2}")  # fullmatch: `$` would let a trailing newline through
INSTANCE_TYPE_OR_LOCAL = re.compile(f"{INSTANCE_TYPE}|local")
REGION_QUERY = rf"^({REGION}|local)$"  # pydantic's regex engine: `$` is the end of the text


def _airflow_user() -> list[Any]:
    """The core API's own check: an authenticated user allowed to see the UI (401/403 otherwise)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    return [Depends(requires_access_view(AccessView.WEBSITE))]


# FastAPI serves /docs, /redoc and /openapi.json outside the app's dependencies, so they would answer
# without a login: off, and the schema is served below behind the same check as everything else
# (Swagger UI itself loads from a CDN, which an offline deployment cannot reach anyway).
# The schema lists the programs' routes (/api/*), each named by its function: the generated client's calls
# (include/clients/python) are `recommend`, `compare`, `summary`, ...; the pages and GraphQL are left out of it.
app = FastAPI(title="EC2 instance benchmarks", description=__doc__, dependencies=_airflow_user(), docs_url=None,
              redoc_url=None, openapi_url=None, generate_unique_id_function=lambda route: route.name)


# Programs' routes (/api/*, /graphql) count against the signed-in user's rate limit; the pages do not.
PER_USER = rate_limits.per_user()
app.middleware("http")(rate_limits.headers_middleware)


class Refusal(BaseModel):
    """Why a request was refused: the rule it broke, in words (or FastAPI's list of invalid parameters)."""

    detail: str | list[dict[str, Any]]


# What an /api route may answer besides 200, as the schema (and so the generated client) tells it.
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "An unknown query parameter (a typo is an error, not an empty filter)"},
    404: {"model": Refusal, "description": "Nothing stored for what was asked"},
    422: {"model": Refusal, "description": "A value that breaks a rule; the detail names it"},
    429: {"model": Refusal, "description": "Past the signed-in user's rate limit: retry after Retry-After seconds"}}


@app.get("/openapi.json", include_in_schema=False)
def openapi_schema() -> JSONResponse:
    return JSONResponse(app.openapi())


def get_store() -> ResultStore:
    """The deployment's results location (INSTANCE_BENCHMARKS_RESULTS_URI, as the DAGs' default)."""
    from instance_benchmarks.params import default_aws_conn_id, default_results_uri

    return ResultStore(default_results_uri(), conn_id=default_aws_conn_id())


Store = Annotated[ResultStore, Depends(get_store)]

_demand = None


def count_demand(store: ResultStore, instance_types: list[str]) -> None:
    """The weekly plan's demand signal: the types a request asked about (demand.py)."""
    global _demand  # noqa: PLW0603 - one counter per api-server process, made on its first request
    from instance_benchmarks.demand import DemandCounter

    if _demand is None:
        _demand = DemandCounter()
    _demand.count(store, [t for t in instance_types if t != "local"])


def graphql_context(store: Store) -> dict[str, Any]:
    """GraphQL's context: the same results store every endpoint here reads, and this request's reads of it."""
    return {"store": store, "reads": api_reads.RequestReads(store)}


def _mount_graphql() -> None:
    from instance_benchmarks import graphql_api

    app.include_router(graphql_api.router(graphql_context), prefix="/graphql", dependencies=[PER_USER],
                       include_in_schema=False)


_mount_graphql()


def only(*allowed: str):
    """Refuse query parameters the endpoint does not know (a typo is an error, not an empty filter)."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise HTTPException(400, f"unknown query parameter(s) {unknown}; allowed: {list(allowed)}")

    return Depends(check)


def _report(store: ResultStore, date: str) -> HTMLResponse:
    if not REPORT_DATE.fullmatch(date):
        raise HTTPException(404, "a report is named by its date (YYYY-MM-DD) or 'latest'")
    page = store.root / "reports" / date / "index.html"
    if not page.exists():
        if date == "latest":
            return HTMLResponse("<!doctype html><title>EC2 instance benchmarks</title><h1>No report yet</h1>"
                                "<p>Trigger the <code>instance_benchmarks</code> DAG; its report appears here.</p>")
        raise HTTPException(404, f"no report for {date}")
    return HTMLResponse(page.read_text())


@app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[only()])
def dashboard(store: Store) -> HTMLResponse:
    """The latest report."""
    return _report(store, "latest")


@app.get("/reports", include_in_schema=False, dependencies=[only()])
def reports(store: Store) -> list[str]:
    """The dates that have a report, newest first."""
    base = store.root / "reports"
    if not base.exists():
        return []
    return sorted((p.name for p in base.iterdir() if REPORT_DATE.fullmatch(p.name) and p.name != "latest"),
                  reverse=True)


@app.get("/reports/{date}", response_class=HTMLResponse, include_in_schema=False, dependencies=[only()])
def report_of(date: str, store: Store) -> HTMLResponse:
    return _report(store, date)


@app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False, dependencies=[only()])
def run_report(run_id: str, store: Store) -> HTMLResponse:
    """A run's own report (reports/runs/<run_id>/): the run's analyze task links here (RunReportLink)."""
    try:
        page = store.run_reports(run_id) / "index.html"  # safe_segment: never `..`, never a separator
    except ValueError:
        raise HTTPException(404, f"not a run id: {run_id!r}") from None
    if not page.exists():
        raise HTTPException(404, f"no report of run {run_id}: its analyze task has not written one (yet)")
    return HTMLResponse(page.read_text())


def _plan(store: ResultStore, week: str) -> dict[str, Any]:
    from instance_benchmarks.freshness import plan_of

    try:
        plan = plan_of(store, week)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    if plan is None:
        raise HTTPException(404, "no weekly plan yet: weekly_refresh writes one each week (trigger it with Preview "
                                 "only to see this week's)" if week == "latest" else f"no plan for the week of {week}")
    return plan


@app.get("/plans", include_in_schema=False, dependencies=[only()])
def week_page(store: Store) -> RedirectResponse:
    """The latest week's plan (redirected to its week, so its links and its address name the week)."""
    return RedirectResponse(f"plans/{_plan(store, 'latest')['week']}", status_code=307)


@app.get("/plans/{week}", response_class=HTMLResponse, include_in_schema=False, dependencies=[only()])
def week_page_of(week: str, store: Store) -> HTMLResponse:
    import datetime

    from instance_benchmarks import freshness, report

    plan = _plan(store, week)
    now = datetime.datetime.now(datetime.UTC)
    rows = freshness.rows(api_reads.table(store, "summary", {}, headline_only=True), plan, today=now.date())
    return HTMLResponse(report.render_week(plan, rows, freshness.spent(store, plan),
                                           generated_at=now.isoformat(timespec="seconds")))


@app.get("/api/plans", responses=REFUSALS, dependencies=[PER_USER, only()])
def plan_weeks(store: Store) -> list[str]:
    """The weeks with a plan, newest first."""
    from instance_benchmarks.freshness import weeks

    return weeks(store)


@app.get("/api/plans/{week}", responses=REFUSALS, dependencies=[PER_USER, only()])
def plan_document(week: str, store: Store) -> JSONResponse:
    """A week's plan as weekly_refresh wrote it ('latest': the newest), with what its runs spent so far."""
    from instance_benchmarks.freshness import spent

    plan = _plan(store, week)
    return JSONResponse({**plan, "spent": spent(store, plan)})


@app.get("/api/freshness", responses=REFUSALS, dependencies=[PER_USER, only("region", "format")])
def freshness_of(store: Store, region: str | None = Query(None, pattern=REGION_QUERY),
                 format: str = Query("json", pattern=r"^(json|csv)$")) -> Response:  # noqa: A002
    """Every type measured or weighed by the latest weekly plan: when it was last measured, how old its figures
    are, on how many hosts, and why the week did or did not measure it again."""
    import datetime

    import pandas as pd

    from instance_benchmarks import freshness

    rows = freshness.rows(api_reads.table(store, "summary", {"region": region}, headline_only=True),
                          freshness.plan_of(store), today=datetime.datetime.now(datetime.UTC).date())
    frame = pd.DataFrame([r for r in rows if region is None or r["region"] == region])
    return _respond(frame, format, "freshness")


class RunReportLink(BaseOperatorLink):
    """'Run report' on a benchmark run's analyze task: the run's own report, served above. A global link (a TaskFlow
    task has no extra links of its own), so it names nothing on every other task."""

    name = "Run report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if ti_key.dag_id != BENCHMARK_DAG_ID or operator.task_id != "analyze":
            return ""
        from airflow.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
        return f"{base}/benchmarks/runs/{urllib.parse.quote(ti_key.run_id, safe='')}"


# The project's own figures unless asked: a contributed figure is a contributor's run, checked and accepted, and
# every row says which it is (`source`, with `contributors` and the submissions).
CONTRIBUTED_QUERY = Query(False, description="also the accepted contributed results, each row's `source` saying "
                                             "whose (docs/contributing-results.md)")


def _respond(frame: pd.DataFrame, fmt: str, filename: str) -> Response:
    from instance_benchmarks.analysis import records

    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    return JSONResponse(records(frame) if not frame.empty else [])


@app.get("/api/summary", responses=REFUSALS, dependencies=[
    PER_USER, only("family", "architecture", "benchmark", "metric", "region", "profile", "sort", "limit", "format",
                   "contributed")])
def summary(
    store: Store,
    family: str | None = Query(None, pattern=r"^[a-z][a-z0-9-]*$", description="instance family, e.g. m7i"),
    architecture: str | None = Query(None, pattern=r"^(intel|amd|graviton|other)$"),
    benchmark: str | None = Query(None, pattern=r"^(stream|hpl)$"),
    metric: str | None = Query(None, pattern=r"^(copy|scale|add|triad|gflops)$"),
    region: str | None = Query(None, pattern=REGION_QUERY),
    profile: str | None = Query(None, pattern=r"^(quick|standard)$",
                                description="quick (a smoke test) or standard (the weekly refresh)"),
    sort: str | None = Query(None, pattern=r"^-?[a-z0-9_]+$",
                             description="any column; a leading - sorts descending: -value_per_dollar_on_demand"),
    limit: int | None = Query(None, ge=1, le=100_000),
    format: str = Query("json", pattern=r"^(json|csv)$"),  # noqa: A002 - the query parameter's name
    contributed: bool = CONTRIBUTED_QUERY,
) -> Response:
    """The summary table (one row per instance type, CPU, benchmark, metric, placement and configuration),
    filtered and sorted."""
    frame = api_reads.table(store, "summary", {"instance_family": family, "family": architecture,
                                               "benchmark": benchmark, "metric": metric, "region": region,
                                               "profile": profile}, contributed=contributed)
    try:
        frame = api_reads.sorted_by(frame, sort)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return _respond(frame.head(limit) if limit else frame, format, "summary")


def _answer(answer: dict[str, Any], rows: list[dict[str, Any]], fmt: str, filename: str) -> Response:
    import pandas as pd

    return _respond(pd.DataFrame(rows), fmt, filename) if fmt == "csv" else JSONResponse(answer)


@app.get("/api/compare", responses=REFUSALS, dependencies=[PER_USER, only("types", "region", "format",
                                                                        "contributed")])
def compare(
    store: Store,
    types: str = Query(..., description="2 to 4 instance types, comma-separated: m7i.large,m7a.large"),
    region: str | None = Query(None, pattern=REGION_QUERY),
    format: str = Query("json", pattern=r"^(json|csv)$"),  # noqa: A002
    contributed: bool = CONTRIBUTED_QUERY,
) -> Response:
    """Each figure of 2-4 types side by side with its 95% interval, and Welch's t-test against the first."""
    from instance_benchmarks import answers

    names = [t.strip() for t in types.split(",") if t.strip()]
    bad = [t for t in names if not INSTANCE_TYPE_OR_LOCAL.fullmatch(t)]
    if bad:
        raise HTTPException(422, f"not instance types: {bad} (e.g. types=m7i.large,m7a.large)")
    count_demand(store, names)
    frame = api_reads.table(store, "summary", {"region": region}, contributed=contributed)
    try:
        answer = answers.compare(frame, names, region=region) if not frame.empty else \
            answers.not_measured(names, region=region)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _answer(answer, answers.compare_rows(answer), format, "compare")


@app.get("/api/recommend", responses=REFUSALS, dependencies=[
    PER_USER, only("min_triad", "min_hpl", "like", "region", "strict", "limit", "format", "contributed")])
def recommend(
    store: Store,
    min_triad: float | None = Query(None, ge=0, description="at least this STREAM triad, all cores (GB/s)"),
    min_hpl: float | None = Query(None, ge=0, description="at least this HPL (GFLOPS)"),
    like: str | None = Query(None, description="meet this type's triad and HPL and cost less than it"),
    region: str | None = Query(None, pattern=REGION_QUERY),
    strict: bool = Query(False, description="only types whose whole 95% interval meets the need"),
    limit: int = Query(10, ge=1, le=100),
    format: str = Query("json", pattern=r"^(json|csv)$"),  # noqa: A002
    contributed: bool = CONTRIBUTED_QUERY,
) -> Response:
    """The cheapest measured types that meet a need, on demand and on spot, with how sure each is."""
    from instance_benchmarks import answers

    if like is not None and not INSTANCE_TYPE_OR_LOCAL.fullmatch(like):
        raise HTTPException(422, f"like: not an instance type: {like!r} (e.g. like=m7i.4xlarge)")
    if like is not None:
        count_demand(store, [like])
    frame = api_reads.table(store, "summary", {"region": region}, headline_only=True, contributed=contributed)
    if frame.empty:
        raise HTTPException(404, f"no results in {region}" if region else
                            "no results yet: trigger instance_benchmarks first")
    try:
        answer = answers.recommend(frame, min_triad=min_triad, min_hpl=min_hpl, like=like, region=region,
                                   strict=strict, limit=limit, catalog=api_reads.catalog(store))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _answer(answer, answers.recommend_rows(answer), format, "recommend")


@app.get("/api/instance-types/{instance_type}/results", responses=REFUSALS,
         dependencies=[PER_USER, only("format", "contributed")])
def instance_type_results(instance_type: str, store: Store,
                          format: str = Query("json", pattern=r"^(json|csv)$"),  # noqa: A002
                          contributed: bool = CONTRIBUTED_QUERY) -> Response:
    """Every raw sample of one instance type, across runs."""
    if not INSTANCE_TYPE_OR_LOCAL.fullmatch(instance_type):
        raise HTTPException(404, f"not an instance type: {instance_type!r} (e.g. m7i.large)")
    count_demand(store, [instance_type])
    frame = api_reads.table(store, "raw", {"instance_type": instance_type}, contributed=contributed)
    if frame.empty:
        raise HTTPException(404, f"no results for {instance_type}")
    return _respond(frame, format, instance_type)


SUBMITTING = rate_limits.per_user(rate_limits.SUBMISSIONS, rate_limits.DEFAULT_SUBMISSION_LIMIT)


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it passes `limit` bytes: never held whole past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"a submission is at most {limit // 2**20} MiB; this one declares {int(declared):,} "
                                 "bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"a submission is at most {limit // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


@app.post("/api/submissions", status_code=202, responses={
    **REFUSALS, 413: {"model": Refusal, "description": "Larger than a submission may be"}},
    dependencies=[PER_USER, SUBMITTING, only()],
    # the body is read raw (size-capped while it streams), so the schema says what it is for the client
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "title": "ContributedResult",
        "description": "A result document as `benchrun all --contribute` wrote it (benchmark-result.v1, with "
                       "`contribution`)"}}}}})
async def submit(request: Request, store: Store, user: GetUserDep) -> JSONResponse:
    """Contribute a result: the JSON document `benchrun all --contribute` wrote on your own EC2 instance, as the
    body. Answers its id and where to read its status back (docs/contributing-results.md)."""
    from starlette.concurrency import run_in_threadpool

    from instance_benchmarks.submissions import Refused, Submissions

    body = await _body(request, MAX_SUBMISSION_BYTES)
    try:
        status = await run_in_threadpool(Submissions(store).receive, body, submitter=str(user.get_id()))
    except Refused as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        await run_in_threadpool(_announce, status["id"])
    except Exception:  # noqa: BLE001 - it is stored: a hand-triggered contributions run checks it all the same
        log.exception("Submission %s is stored but its Asset event was not recorded", status["id"])
    return JSONResponse({**_own_status(status), "status_url": f"api/submissions/{status['id']}"}, status_code=202)


@app.get("/api/submissions", responses=REFUSALS, dependencies=[PER_USER, only()])
def my_submissions(store: Store, user: GetUserDep) -> JSONResponse:
    """Your submissions, oldest first, each with its status: those you posted, and the bulk uploads taken in from
    submissions/incoming/<your user name>/ (docs/contributing-results.md)."""
    from instance_benchmarks.submissions import Submissions

    return JSONResponse([_own_status(status) for status in Submissions(store).of(str(user.get_id()))])


@app.get("/api/submissions/{submission_id}", responses=REFUSALS, dependencies=[PER_USER, only()])
def submission_status(submission_id: str, store: Store, user: GetUserDep) -> JSONResponse:
    """A submission's status (received, checking, awaiting review, accepted, rejected) with every check's verdict
    and the reasons; only its contributor can read it."""
    from instance_benchmarks.submissions import Submissions

    status = Submissions(store).status(submission_id)
    if status is None or status["submitter"] != str(user.get_id()):
        raise HTTPException(404, f"no submission {submission_id!r} of yours")
    return JSONResponse(_own_status(status))


def _announce(submission_id: str) -> None:
    """The contributions DAG's Asset event for a submission taken in (its extra names it and the results location),
    recorded as the core API's POST /assets/events records one. Where no DAG was ever parsed with that Asset, the
    submission waits for a hand-triggered contributions run, which checks every one still received."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from instance_benchmarks import SUBMISSIONS_ASSET_NAME
    from instance_benchmarks.params import default_aws_conn_id, default_results_uri

    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.name == SUBMISSIONS_ASSET_NAME).limit(1))
        if asset is None:
            log.warning("Submission %s waits: no DAG is scheduled on %s (is contributions parsed?); trigger "
                        "contributions by hand to check it", submission_id, SUBMISSIONS_ASSET_NAME)
            return
        asset_manager.register_asset_change(asset=asset, extra={
            "results_uri": default_results_uri(), "aws_conn_id": default_aws_conn_id(),
            "submission_id": submission_id}, source_is_api=True, session=session)


def _own_status(status: dict[str, Any]) -> dict[str, Any]:
    return {**{key: status[key] for key in ("id", "status", "received_at", "reasons", "checks")},
            **({"upload": status["upload"]} if "upload" in status else {})}


class InstanceBenchmarksPlugin(AirflowPlugin):
    name = "instance_benchmarks"
    fastapi_apps = [{"app": app, "url_prefix": "/benchmarks", "name": "EC2 instance benchmarks"}]
    global_operator_extra_links = [RunReportLink()]
    external_views = [{"name": "Benchmarks", "href": "benchmarks/", "destination": "nav", "url_route": "benchmarks",
                       "category": "browse"},
                      {"name": "Weekly plan", "href": "benchmarks/plans", "destination": "nav",
                       "url_route": "benchmarks-plans", "category": "browse"}]
