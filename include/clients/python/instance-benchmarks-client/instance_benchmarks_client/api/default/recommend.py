from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.refusal import Refusal
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    min_triad: float | None | Unset = UNSET,
    min_hpl: float | None | Unset = UNSET,
    like: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    strict: bool | Unset = False,
    limit: int | Unset = 10,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_min_triad: float | None | Unset
    if isinstance(min_triad, Unset):
        json_min_triad = UNSET
    else:
        json_min_triad = min_triad
    params["min_triad"] = json_min_triad

    json_min_hpl: float | None | Unset
    if isinstance(min_hpl, Unset):
        json_min_hpl = UNSET
    else:
        json_min_hpl = min_hpl
    params["min_hpl"] = json_min_hpl

    json_like: None | str | Unset
    if isinstance(like, Unset):
        json_like = UNSET
    else:
        json_like = like
    params["like"] = json_like

    json_region: None | str | Unset
    if isinstance(region, Unset):
        json_region = UNSET
    else:
        json_region = region
    params["region"] = json_region

    params["strict"] = strict

    params["limit"] = limit

    params["format"] = format_

    params["contributed"] = contributed

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/recommend",
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
    min_triad: float | None | Unset = UNSET,
    min_hpl: float | None | Unset = UNSET,
    like: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    strict: bool | Unset = False,
    limit: int | Unset = 10,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Recommend

     The cheapest measured types that meet a need, on demand and on spot, with how sure each is.

    Args:
        min_triad (float | None | Unset): at least this STREAM triad, all cores (GB/s)
        min_hpl (float | None | Unset): at least this HPL (GFLOPS)
        like (None | str | Unset): meet this type's triad and HPL and cost less than it
        region (None | str | Unset):
        strict (bool | Unset): only types whose whole 95% interval meets the need Default: False.
        limit (int | Unset):  Default: 10.
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
        min_triad=min_triad,
        min_hpl=min_hpl,
        like=like,
        region=region,
        strict=strict,
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
    min_triad: float | None | Unset = UNSET,
    min_hpl: float | None | Unset = UNSET,
    like: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    strict: bool | Unset = False,
    limit: int | Unset = 10,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Recommend

     The cheapest measured types that meet a need, on demand and on spot, with how sure each is.

    Args:
        min_triad (float | None | Unset): at least this STREAM triad, all cores (GB/s)
        min_hpl (float | None | Unset): at least this HPL (GFLOPS)
        like (None | str | Unset): meet this type's triad and HPL and cost less than it
        region (None | str | Unset):
        strict (bool | Unset): only types whose whole 95% interval meets the need Default: False.
        limit (int | Unset):  Default: 10.
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
        min_triad=min_triad,
        min_hpl=min_hpl,
        like=like,
        region=region,
        strict=strict,
        limit=limit,
        format_=format_,
        contributed=contributed,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    min_triad: float | None | Unset = UNSET,
    min_hpl: float | None | Unset = UNSET,
    like: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    strict: bool | Unset = False,
    limit: int | Unset = 10,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Recommend

     The cheapest measured types that meet a need, on demand and on spot, with how sure each is.

    Args:
        min_triad (float | None | Unset): at least this STREAM triad, all cores (GB/s)
        min_hpl (float | None | Unset): at least this HPL (GFLOPS)
        like (None | str | Unset): meet this type's triad and HPL and cost less than it
        region (None | str | Unset):
        strict (bool | Unset): only types whose whole 95% interval meets the need Default: False.
        limit (int | Unset):  Default: 10.
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
        min_triad=min_triad,
        min_hpl=min_hpl,
        like=like,
        region=region,
        strict=strict,
        limit=limit,
        format_=format_,
        contributed=contributed,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    min_triad: float | None | Unset = UNSET,
    min_hpl: float | None | Unset = UNSET,
    like: None | str | Unset = UNSET,
    region: None | str | Unset = UNSET,
    strict: bool | Unset = False,
    limit: int | Unset = 10,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Recommend

     The cheapest measured types that meet a need, on demand and on spot, with how sure each is.

    Args:
        min_triad (float | None | Unset): at least this STREAM triad, all cores (GB/s)
        min_hpl (float | None | Unset): at least this HPL (GFLOPS)
        like (None | str | Unset): meet this type's triad and HPL and cost less than it
        region (None | str | Unset):
        strict (bool | Unset): only types whose whole 95% interval meets the need Default: False.
        limit (int | Unset):  Default: 10.
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
            min_triad=min_triad,
            min_hpl=min_hpl,
            like=like,
            region=region,
            strict=strict,
            limit=limit,
            format_=format_,
            contributed=contributed,
        )
    ).parsed
