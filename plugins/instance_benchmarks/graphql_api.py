"""GraphQL under /benchmarks/graphql (issue 31): the REST API's data and answers, for queries that pick their fields.

The rows come from api_reads (the REST API's own reads), compare and recommend from answers.py (the REST API's own
code), so both interfaces answer alike. A query deeper than MAX_DEPTH, with more than MAX_ALIASES aliases, or asking
a page of more than MAX_PAGE figures is refused, naming the limit: one request cannot read the whole table.
Work in progress (branch): compare and recommend answer as JSON until their types are written.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.scalars import JSON

from instance_benchmarks import api_reads

MAX_DEPTH = 5
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


FIELDS = [name for name in Figure.__annotations__ if name != "architecture"]


def _figure(row: dict[str, Any]) -> Figure:
    values = {name: row.get(name) for name in FIELDS}
    values["last_seen"] = None if values["last_seen"] is None else str(values["last_seen"])
    return Figure(architecture=row["family"], **values)


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


@strawberry.type
class InstanceType:
    name: str
    region: str | None

    @strawberry.field(description="The type's current figures (the ones rankings and answers use)")
    def figures(self, info: strawberry.Info) -> list[Figure]:
        from instance_benchmarks.analysis import current, records

        frame = api_reads.table(_store(info), "summary", {"instance_type": self.name, "region": self.region})
        return [] if frame.empty else [_figure(r) for r in records(current(frame))]

    @strawberry.field(description="The cheapest types that meet this one's triad and HPL for less, on demand "
                                  "(recommend with like=<this type>)")
    def alternatives(self, info: strawberry.Info, first: int = 3) -> JSON:
        from instance_benchmarks import answers

        if not 1 <= first <= MAX_PAGE:
            raise ValueError(f"first: 1 to {MAX_PAGE}")
        frame = api_reads.table(_store(info), "summary", {"region": self.region}, headline_only=True)
        if frame.empty:
            return []
        answer = answers.recommend(frame, like=self.name, region=self.region, limit=first)
        return answer["on_demand"]


@strawberry.type
class Query:
    @strawberry.field(description="The summary's figures, filtered and sorted as /api/summary, a page at a time")
    def figures(self, info: strawberry.Info, family: str | None = None, architecture: str | None = None,
                benchmark: str | None = None, metric: str | None = None, region: str | None = None,
                profile: str | None = None, sort: str | None = None, first: int = 50,
                after: str | None = None) -> FigurePage:
        from instance_benchmarks.analysis import records

        if not 1 <= first <= MAX_PAGE:
            raise ValueError(f"first: a page is 1 to {MAX_PAGE} figures (the query cost limit); got {first}")
        frame = api_reads.table(_store(info), "summary", {
            "instance_family": family, "family": architecture, "benchmark": benchmark, "metric": metric,
            "region": region, "profile": profile})
        frame = api_reads.sorted_by(frame, sort)
        start = _offset(after)
        page = frame.iloc[start:start + first]
        end = start + len(page)
        return FigurePage(total_count=len(frame), nodes=[_figure(r) for r in records(page)] if len(page) else [],
                          page_info=PageInfo(end_cursor=_cursor(end) if len(page) else None,
                                             has_next_page=end < len(frame)))

    @strawberry.field(description="One instance type: its figures and its alternatives")
    def instance_type(self, name: str, region: str | None = None) -> InstanceType:
        return InstanceType(name=name, region=region)

    @strawberry.field(description="As /api/compare: 2 to 4 types side by side, Welch's t-test against the first")
    def compare(self, info: strawberry.Info, types: list[str], region: str | None = None) -> JSON:
        from instance_benchmarks import answers

        frame = api_reads.table(_store(info), "summary", {"region": region})
        return answers.compare(frame, types, region=region)

    @strawberry.field(description="As /api/recommend: the cheapest measured types that meet a need")
    def recommend(self, info: strawberry.Info, min_triad: float | None = None, min_hpl: float | None = None,
                  like: str | None = None, region: str | None = None, strict: bool = False,
                  limit: int = 10) -> JSON:
        from instance_benchmarks import answers

        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit: 1 to {MAX_PAGE}")
        frame = api_reads.table(_store(info), "summary", {"region": region}, headline_only=True)
        return answers.recommend(frame, min_triad=min_triad, min_hpl=min_hpl, like=like, region=region,
                                 strict=strict, limit=limit, catalog=api_reads.catalog(_store(info)))


schema = strawberry.Schema(query=Query, extensions=[QueryDepthLimiter(max_depth=MAX_DEPTH),
                                                    MaxAliasesLimiter(max_alias_count=MAX_ALIASES)])


def router(context_getter: Callable[..., Any]) -> Any:
    """The GraphQL endpoint, its context (the results store) from the app's own dependency."""
    from strawberry.fastapi import GraphQLRouter

    return GraphQLRouter(schema, context_getter=context_getter, graphql_ide=None)
