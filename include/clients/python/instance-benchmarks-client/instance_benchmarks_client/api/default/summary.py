from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.refusal import Refusal
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    family: None | str | Unset = UNSET,
    architecture: None | str | Unset = UNSET,
    benchmark: None | str | Unset = UNSET,
    metric: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    profile: None | str | Unset = UNSET,
    sort: None | str | Unset = UNSET,
    limit: int | None | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_family: None | str | Unset
    if isinstance(family, Unset):
        json_family = UNSET
    else:
        json_family = family
    params["family"] = json_family

    json_architecture: None | str | Unset
    if isinstance(architecture, Unset):
        json_architecture = UNSET
    else:
        json_architecture = architecture
    params["architecture"] = json_architecture

    json_benchmark: None | str | Unset
    if isinstance(benchmark, Unset):
        json_benchmark = UNSET
    else:
        json_benchmark = benchmark
    params["benchmark"] = json_benchmark

    json_metric: None | str | Unset
    if isinstance(metric, Unset):
        json_metric = UNSET
    else:
        json_metric = metric
    params["metric"] = json_metric

    json_region: None | str | Unset
    if isinstance(region, Unset):
        json_region = UNSET
    else:
        json_region = region
    params["region"] = json_region

    json_profile: None | str | Unset
    if isinstance(profile, Unset):
        json_profile = UNSET
    else:
        json_profile = profile
    params["profile"] = json_profile

    json_sort: None | str | Unset
    if isinstance(sort, Unset):
        json_sort = UNSET
    else:
        json_sort = sort
    params["sort"] = json_sort

    json_limit: int | None | Unset
    if isinstance(limit, Unset):
        json_limit = UNSET
    else:
        json_limit = limit
    params["limit"] = json_limit

    params["format"] = format_

    params["contributed"] = contributed

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/summary",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Refusal | None:
    if response.status_code == 200:
        response_200 = response.json()
        return response_200

    if response.status_code == 400:
        response_400 = Refusal.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = Refusal.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = Refusal.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Refusal.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Refusal]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    family: None | str | Unset = UNSET,
    architecture: None | str | Unset = UNSET,
    benchmark: None | str | Unset = UNSET,
    metric: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    profile: None | str | Unset = UNSET,
    sort: None | str | Unset = UNSET,
    limit: int | None | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Summary

     The summary table (one row per instance type, CPU, benchmark, metric, placement and configuration),
    filtered and sorted.

    Args:
        family (None | str | Unset): instance family, e.g. m7i
        architecture (None | str | Unset):
        benchmark (None | str | Unset):
        metric (None | str | Unset):
        region (None | str | Unset):
        profile (None | str | Unset): quick (a smoke test) or standard (the weekly refresh)
        sort (None | str | Unset): any column; a leading - sorts descending:
            -value_per_dollar_on_demand
        limit (int | None | Unset):
        format_ (str | Unset):  Default: 'json'.
        contributed (bool | Unset): also the accepted contributed results, each row's `source`
            saying whose (docs/contributing-results.md) Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        family=family,
        architecture=architecture,
        benchmark=benchmark,
        metric=metric,
        region=region,
        profile=profile,
        sort=sort,
        limit=limit,
        format_=format_,
        contributed=contributed,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    family: None | str | Unset = UNSET,
    architecture: None | str | Unset = UNSET,
    benchmark: None | str | Unset = UNSET,
    metric: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    profile: None | str | Unset = UNSET,
    sort: None | str | Unset = UNSET,
    limit: int | None | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Summary

     The summary table (one row per instance type, CPU, benchmark, metric, placement and configuration),
    filtered and sorted.

    Args:
        family (None | str | Unset): instance family, e.g. m7i
        architecture (None | str | Unset):
        benchmark (None | str | Unset):
        metric (None | str | Unset):
        region (None | str | Unset):
        profile (None | str | Unset): quick (a smoke test) or standard (the weekly refresh)
        sort (None | str | Unset): any column; a leading - sorts descending:
            -value_per_dollar_on_demand
        limit (int | None | Unset):
        format_ (str | Unset):  Default: 'json'.
        contributed (bool | Unset): also the accepted contributed results, each row's `source`
            saying whose (docs/contributing-results.md) Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return sync_detailed(
        client=client,
        family=family,
        architecture=architecture,
        benchmark=benchmark,
        metric=metric,
        region=region,
        profile=profile,
        sort=sort,
        limit=limit,
        format_=format_,
        contributed=contributed,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    family: None | str | Unset = UNSET,
    architecture: None | str | Unset = UNSET,
    benchmark: None | str | Unset = UNSET,
    metric: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    profile: None | str | Unset = UNSET,
    sort: None | str | Unset = UNSET,
    limit: int | None | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Summary

     The summary table (one row per instance type, CPU, benchmark, metric, placement and configuration),
    filtered and sorted.

    Args:
        family (None | str | Unset): instance family, e.g. m7i
        architecture (None | str | Unset):
        benchmark (None | str | Unset):
        metric (None | str | Unset):
        region (None | str | Unset):
        profile (None | str | Unset): quick (a smoke test) or standard (the weekly refresh)
        sort (None | str | Unset): any column; a leading - sorts descending:
            -value_per_dollar_on_demand
        limit (int | None | Unset):
        format_ (str | Unset):  Default: 'json'.
        contributed (bool | Unset): also the accepted contributed results, each row's `source`
            saying whose (docs/contributing-results.md) Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        family=family,
        architecture=architecture,
        benchmark=benchmark,
        metric=metric,
        region=region,
        profile=profile,
        sort=sort,
        limit=limit,
        format_=format_,
        contributed=contributed,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    family: None | str | Unset = UNSET,
    architecture: None | str | Unset = UNSET,
    benchmark: None | str | Unset = UNSET,
    metric: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    profile: None | str | Unset = UNSET,
    sort: None | str | Unset = UNSET,
    limit: int | None | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Summary

     The summary table (one row per instance type, CPU, benchmark, metric, placement and configuration),
    filtered and sorted.

    Args:
        family (None | str | Unset): instance family, e.g. m7i
        architecture (None | str | Unset):
        benchmark (None | str | Unset):
        metric (None | str | Unset):
        region (None | str | Unset):
        profile (None | str | Unset): quick (a smoke test) or standard (the weekly refresh)
        sort (None | str | Unset): any column; a leading - sorts descending:
            -value_per_dollar_on_demand
        limit (int | None | Unset):
        format_ (str | Unset):  Default: 'json'.
        contributed (bool | Unset): also the accepted contributed results, each row's `source`
            saying whose (docs/contributing-results.md) Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return (
        await asyncio_detailed(
            client=client,
            family=family,
            architecture=architecture,
            benchmark=benchmark,
            metric=metric,
            region=region,
            profile=profile,
            sort=sort,
            limit=limit,
            format_=format_,
            contributed=contributed,
        )
    ).parsed
