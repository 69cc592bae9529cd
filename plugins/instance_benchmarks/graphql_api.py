"""GraphQL under /benchmarks/graphql (issue 31): the REST API's data and answers, for queries that pick their fields.

The rows come from api_reads (the REST API's own reads), compare and recommend from answers.py (the REST API's own
code), so both interfaces answer alike. A query deeper than MAX_DEPTH, with more than MAX_ALIASES aliases, or asking
a page of more than MAX_PAGE figures is refused, naming the limit: one request cannot read the whole table.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from instance_benchmarks import api_reads
from instance_benchmarks.analysis import with_source

MAX_DEPTH = 4  # the schema's deepest selection (strawberry counts from 0): a test holds them equal
MAX_ALIASES = 10
MAX_PAGE = 100


@strawberry.type(description="One figure of one type: a summary row (a benchmark, metric, placement, configuration)")
class Figure:
    region: str
    instance_type: str
    instance_family: str
    architecture: str
    cpu_model: str
    benchmark: str
    metric: str
    placement: str
    unit: str | None
    profile: str | None
    configuration: str | None
    n: int
    hosts: int | None
    mean: float
    ci95_low: float | None
    ci95_high: float | None
    efficiency: float | None
    price_per_hour_on_demand: float | None
    price_per_hour_spot: float | None
    value_per_dollar_on_demand: float | None
    value_per_dollar_spot: float | None
    last_seen: str | None
    contributors: str | None = strawberry.field(description="source=contributed: who measured it")
    submissions: int | None = strawberry.field(description="source=contributed: of how many accepted submissions")
    source: str = strawberry.field(description="project: measured by this project's DAG; contributed: a "
                                               "contributor's run, checked and accepted by a person")
    age_days: float | None = strawberry.field(description="days since last_seen: how fresh the figure is")


FIELDS = [name for name in Figure.__annotations__ if name not in ("architecture", "age_days")]


def _figure(row: dict[str, Any]) -> Figure:
    import datetime

    values = {name: row.get(name) for name in FIELDS}
    values["last_seen"] = None if values["last_seen"] is None else str(values["last_seen"])
    age = None
    if values["last_seen"]:
        seen = datetime.datetime.fromisoformat(values["last_seen"].replace("Z", "+00:00"))
        age = round((datetime.datetime.now(datetime.UTC) - seen).total_seconds() / 86400, 2)
    return Figure(architecture=row["family"], age_days=age, **values)


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class FigurePage:
    total_count: int
    nodes: list[Figure]
    page_info: PageInfo


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "offset" or int(value) < 0:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"after: {cursor!r} is not a cursor this API gave (pageInfo.endCursor)") from None


def _store(info: strawberry.Info) -> Any:
    return info.context["store"]


def _reads(info: strawberry.Info) -> api_reads.RequestReads:
    """This request's reads of the dataset (the summary read once, whatever the query asks of it)."""
    return info.context["reads"]


@strawberry.type(description="Where a compare entry stands against the first type (the baseline)")
class VersusBaseline:
    ratio: float | None
    p_value: float | None
    p_holm: float | None = strawberry.field(description="Holm-adjusted over the measures tested for this type")
    significant: bool | None
    not_testable: str | None
    intervals_overlap: bool | None
    same_profile: bool


@strawberry.type(description="One type's figure in a compare, with the n and spread Welch's test takes")
class CompareEntry:
    region: str
    instance_type: str
    cpu_model: str
    source: str = strawberry.field(description="project: measured by this project's DAG; contributed: a "
                                               "contributor's run, checked and accepted by a person")
    contributors: str | None
    profile: str | None
    configuration: str | None
    samples: int
    n: int = strawberry.field(description="what the test counts: hosts where two or more, else repetitions")
    tested_on: str
    hosts: int | None
    interval: str | None
    mean: float
    std: float | None
    ci95_low: float | None
    ci95_high: float | None
    unit: str | None
    blas_fallback: bool
    price_per_hour_on_demand: float | None
    price_per_hour_spot: float | None
    value_per_dollar_on_demand: float | None
    value_per_dollar_spot: float | None
    vs_baseline: VersusBaseline | None


@strawberry.type
class ComparedMeasure:
    measure: str
    unit: str | None
    baseline: str
    entries: list[CompareEntry]


@strawberry.type
class TestsPerType:
    instance_type: str
    measures_tested: int


@strawberry.type(description="As /api/compare answers: each measure side by side, Welch's test against the first")
class Comparison:
    types: list[str]
    region: str | None
    test: str
    measures: list[ComparedMeasure]
    tests: list[TestsPerType]
    not_measured: list[str]


@strawberry.type
class CandidateFigure:
    mean: float
    ci95_low: float | None
    ci95_high: float | None
    n: int
    hosts: int | None
    unit: str | None
    profile: str | None
    blas_fallback: bool


@strawberry.type(description="The figures a need is stated in")
class NeedFigures:
    triad: CandidateFigure | None = strawberry.field(description="STREAM triad, all cores (GB/s)")
    hpl: CandidateFigure | None = strawberry.field(description="HPL (GFLOPS)")


@strawberry.type(description="A type that meets the need, with how sure that is (`meets`: Recommendation.rule)")
class Candidate:
    region: str
    instance_type: str
    cpu_model: str
    source: str = strawberry.field(description="project: measured by this project's DAG; contributed: a "
                                               "contributor's run, checked and accepted by a person")
    contributors: str | None
    meets: str
    figures: NeedFigures
    price_per_hour_on_demand: float | None
    price_per_hour_spot: float | None


@strawberry.type
class Need:
    figure: str
    at_least: float
    unit: str


@strawberry.type
class LikeFigures:
    triad: float | None
    hpl: float | None


@strawberry.type(description="The type a `like` need was taken from")
class LikeReference:
    instance_type: str
    figures: LikeFigures
    price_per_hour_on_demand: float | None
    price_per_hour_spot: float | None


@strawberry.type
class Lacking:
    region: str
    instance_type: str
    cpu_model: str
    source: str
    not_measured: list[str]


@strawberry.type
class NeverMeasured:
    count: int
    instance_types: list[str]
    note: str


@strawberry.type(description="As /api/recommend answers: the cheapest measured types that meet a need, per market")
class Recommendation:
    need: list[Need]
    like: LikeReference | None
    region: str | None
    strict: bool
    rule: str
    on_demand: list[Candidate]
    spot: list[Candidate]
    unpriced: list[Candidate]
    measured_without_the_needed_benchmark: list[Lacking]
    never_measured: NeverMeasured


def build(cls: type, value: Any) -> Any:
    """A strawberry type from answers.py's dict, field by field (nested types alike): the GraphQL answer is the
    REST answer, typed."""
    if value is None:
        return None
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _converted(hints[f.name], value.get(f.name)) for f in dataclasses.fields(cls)})


def _converted(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    inner = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return _converted(inner[0], value)
    if typing.get_origin(hint) is list:
        return [_converted(inner[0], v) for v in value]
    return build(hint, value) if dataclasses.is_dataclass(hint) else value


def comparison(answer: dict[str, Any]) -> Comparison:
    return build(Comparison, {**answer, "tests": [{"instance_type": name, "measures_tested": count}
                                                  for name, count in answer["tests"].items()]})


def recommendation(answer: dict[str, Any]) -> Recommendation:
    return build(Recommendation, {**answer, "need": [{"figure": k, **v} for k, v in answer["need"].items()]})


@strawberry.type(description="What catalog_refresh last read of the type from EC2 (DescribeInstanceTypes)")
class CatalogEntry:
    region: str
    instance_family: str
    architecture: str | None
    processor: str | None
    vcpus: int | None
    physical_cores: int | None
    memory_gib: float | None
    sustained_clock_ghz: float | None
    current_generation: bool | None
    bare_metal: bool | None
    burstable: bool | None
    benchmarkable: bool
    left_out_because: str | None


@strawberry.type(description="An hour's price as recorded with the type's latest measurement (the run's price "
                             "snapshot), not a live quote")
class Price:
    on_demand: float | None
    spot: float | None


@strawberry.type(description="How fresh the type's figures are, and what the latest weekly plan decided for it")
class Freshness:
    region: str
    last_measured: str | None
    age_weeks: float | None
    hosts: int | None
    interval_halfwidth: float | None
    this_week: str


@strawberry.type(description="One measured sample (a repetition of one benchmark on one host)")
class Sample:
    run_id: str
    document_id: str
    started_at: str | None
    region: str
    cpu_model: str
    profile: str | None
    market: str | None
    benchmark: str
    metric: str
    placement: str
    threads: int | None
    repetition: int
    value: float
    unit: str | None
    source: str | None = strawberry.field(description="project, or contributed (by `contributor`)")
    contributor: str | None


@strawberry.type
class SamplePage:
    total_count: int
    nodes: list[Sample]
    page_info: PageInfo


@strawberry.type(description="One run that measured the type")
class Run:
    run_id: str
    region: str
    started_at: str | None
    profile: str | None
    market: str | None
    cpu_model: str
    image_digest: str | None
    hosts: int
    samples: int
    source: str | None = strawberry.field(description="project, or contributed (a submission accepted)")


def _within_the_limit(argument: str, rows: int) -> None:
    """The query cost limit on how many rows one field answers."""
    if not 1 <= rows <= MAX_PAGE:
        raise ValueError(f"{argument}: a page is 1 to {MAX_PAGE} rows (the query cost limit); got {rows}")


def _page(frame: Any, first: int, after: str | None) -> tuple[Any, int, PageInfo]:
    """A cursor page of `frame`: its rows, the total, and where the next page starts."""
    _within_the_limit("first", first)
    start = _offset(after)
    page = frame.iloc[start:start + first]
    end = start + len(page)
    return page, len(frame), PageInfo(end_cursor=_cursor(end) if len(page) else None, has_next_page=end < len(frame))


def in_thread(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """A resolver run in a worker thread: the api-server's event loop is not blocked by a read of the dataset, and a
    query's fields (a type's figures and its alternatives) are read and computed side by side."""

    @functools.wraps(resolver)
    async def threaded(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(resolver, *args, **kwargs)

    return threaded


@strawberry.type
class InstanceType:
    name: str
    region: str | None
    contributed: strawberry.Private[bool] = False

    @strawberry.field(description="The type's current figures (the ones rankings and answers use)")
    @in_thread
    def figures(self, info: strawberry.Info) -> list[Figure]:
        from instance_benchmarks.analysis import current, records

        frame = _reads(info).table("summary", {"instance_type": self.name, "region": self.region},
                                   contributed=self.contributed)
        return [] if frame.empty else [_figure(r) for r in records(current(frame))]

    @strawberry.field(description="The cheapest types that meet this one's triad and HPL for less, on demand "
                                  "(recommend with like=<this type>)")
    @in_thread
    def alternatives(self, info: strawberry.Info, first: int = 3) -> list[Candidate]:
        from instance_benchmarks import answers

        _within_the_limit("first", first)
        frame = _reads(info).table("summary", {"region": self.region}, headline_only=True,
                                   contributed=self.contributed)
        if frame.empty:
            return []
        answer = answers.recommend(frame, like=self.name, region=self.region, limit=first)
        return [build(Candidate, c) for c in answer["on_demand"]]

    @strawberry.field(description="What EC2 says the type is, per region catalog_refresh read (empty before it ran)")
    @in_thread
    def catalog(self, info: strawberry.Info) -> list[CatalogEntry]:
        rows = api_reads.catalog_entries(_store(info), self.name, self.region)
        return [build(CatalogEntry, {**r, "memory_gib": None if r["memory_bytes"] is None else
                                     r["memory_bytes"] / 2**30}) for r in rows]

    @strawberry.field(description="The hourly prices recorded with its latest measurement, per region")
    @in_thread
    def prices(self, info: strawberry.Info) -> list[Price]:
        frame = _reads(info).table("summary", {"instance_type": self.name, "region": self.region},
                                headline_only=True)
        if frame.empty:
            return []
        latest = frame.sort_values("last_seen").groupby("region").last()
        return [Price(on_demand=_number(r.price_per_hour_on_demand), spot=_number(r.price_per_hour_spot))
                for r in latest.itertuples()]

    @strawberry.field(description="When it was last measured and what the latest weekly plan decided, per region")
    @in_thread
    def freshness(self, info: strawberry.Info) -> list[Freshness]:
        import datetime

        from instance_benchmarks import freshness

        store = _store(info)
        summary = _reads(info).table("summary", {"instance_type": self.name, "region": self.region},
                                  headline_only=True)
        rows = freshness.rows(summary, freshness.plan_of(store), today=datetime.datetime.now(datetime.UTC).date())
        return [build(Freshness, r) for r in rows if r["instance_type"] == self.name
                and self.region in (None, r["region"])]

    @strawberry.field(description="Its raw samples, newest run first, a page at a time")
    @in_thread
    def samples(self, info: strawberry.Info, benchmark: str | None = None, first: int = 50,
                after: str | None = None) -> SamplePage:
        from instance_benchmarks.analysis import records

        frame = _reads(info).table("raw", {"instance_type": self.name, "region": self.region,
                                           "benchmark": benchmark}, contributed=self.contributed)
        if not frame.empty:
            frame = frame.sort_values(["started_at", "document_id", "benchmark", "metric", "placement",
                                       "repetition"], ascending=[False, True, True, True, True, True], kind="stable")
        page, total, info_ = _page(frame, first, after)
        return SamplePage(total_count=total, page_info=info_,
                          nodes=[build(Sample, r) for r in records(page)] if len(page) else [])

    @strawberry.field(description="The runs that measured it, newest first")
    @in_thread
    def runs(self, info: strawberry.Info) -> list[Run]:
        frame = _reads(info).table("raw", {"instance_type": self.name, "region": self.region},
                                   contributed=self.contributed)
        if frame.empty:
            return []
        frame = with_source(frame)
        grouped = frame.groupby(["run_id", "region"], dropna=False).agg(source=("source", "first"),
            started_at=("started_at", "min"), profile=("profile", "first"), market=("market", "first"),
            cpu_model=("cpu_model", "first"), image_digest=("image_digest", "first"),
            hosts=("document_id", "nunique"), samples=("value", "size")).reset_index()
        grouped = grouped.sort_values(["started_at", "run_id"], ascending=[False, True])
        return [build(Run, {k: _number(v) if isinstance(v, float) else v for k, v in r.items()})
                for r in grouped.to_dict("records")]


def _number(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@strawberry.type
class Query:
    @strawberry.field(description="The summary's figures, filtered and sorted as /api/summary, a page at a time")
    @in_thread
    def figures(self, info: strawberry.Info, family: str | None = None, architecture: str | None = None,
                benchmark: str | None = None, metric: str | None = None, region: str | None = None,
                profile: str | None = None, sort: str | None = None, first: int = 50,
                after: str | None = None, contributed: bool = False) -> FigurePage:
        from instance_benchmarks.analysis import records

        frame = _reads(info).table("summary", {
            "instance_family": family, "family": architecture, "benchmark": benchmark, "metric": metric,
            "region": region, "profile": profile}, contributed=contributed)
        page, total, info_ = _page(api_reads.sorted_by(frame, sort), first, after)
        return FigurePage(total_count=total, nodes=[_figure(r) for r in records(page)] if len(page) else [],
                          page_info=info_)

    @strawberry.field(description="One instance type: what EC2 says it is, its prices, figures, freshness, samples, "
                                  "runs and alternatives")
    def instance_type(self, name: str, region: str | None = None, contributed: bool = False) -> InstanceType:
        return InstanceType(name=name, region=region, contributed=contributed)

    @strawberry.field(description="As /api/compare: 2 to 4 types side by side, Welch's t-test against the first")
    @in_thread
    def compare(self, info: strawberry.Info, types: list[str], region: str | None = None,
                contributed: bool = False) -> Comparison:
        from instance_benchmarks import answers

        frame = _reads(info).table("summary", {"region": region}, contributed=contributed)
        if frame.empty:
            return comparison(answers.not_measured(types, region=region))
        return comparison(answers.compare(frame, types, region=region))

    @strawberry.field(description="As /api/recommend: the cheapest measured types that meet a need")
    @in_thread
    def recommend(self, info: strawberry.Info, min_triad: float | None = None, min_hpl: float | None = None,
                  like: str | None = None, region: str | None = None, strict: bool = False,
                  limit: int = 10, contributed: bool = False) -> Recommendation:
        from instance_benchmarks import answers

        _within_the_limit("limit", limit)
        frame = _reads(info).table("summary", {"region": region}, headline_only=True, contributed=contributed)
        if frame.empty:
            raise LookupError(f"no results in {region}" if region else "no results yet: trigger "
                              "instance_benchmarks first")
        return recommendation(answers.recommend(frame, min_triad=min_triad, min_hpl=min_hpl, like=like,
                                                region=region, strict=strict, limit=limit,
                                                catalog=api_reads.catalog(_store(info))))


schema = strawberry.Schema(query=Query, extensions=[QueryDepthLimiter(max_depth=MAX_DEPTH),
                                                    MaxAliasesLimiter(max_alias_count=MAX_ALIASES)])


def router(context_getter: Callable[..., Any]) -> Any:
    """The GraphQL endpoint, its context (the results store) from the app's own dependency."""
    from strawberry.fastapi import GraphQLRouter

    return GraphQLRouter(schema, context_getter=context_getter, graphql_ide=None)
