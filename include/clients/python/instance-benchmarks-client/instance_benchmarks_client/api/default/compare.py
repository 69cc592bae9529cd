from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.refusal import Refusal
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    types: str,
    region: None | str | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["types"] = types

    json_region: None | str | Unset
    if isinstance(region, Unset):
        json_region = UNSET
    else:
        json_region = region
    params["region"] = json_region

    params["format"] = format_

    params["contributed"] = contributed

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/compare",
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
    types: str,
    region: None | str | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Compare

     Each figure of 2-4 types side by side with its 95% interval, and Welch's t-test against the first.

    Args:
        types (str): 2 to 4 instance types, comma-separated: m7i.large,m7a.large
        region (None | str | Unset):
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
        types=types,
        region=region,
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
    types: str,
    region: None | str | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Compare

     Each figure of 2-4 types side by side with its 95% interval, and Welch's t-test against the first.

    Args:
        types (str): 2 to 4 instance types, comma-separated: m7i.large,m7a.large
        region (None | str | Unset):
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
        types=types,
        region=region,
        format_=format_,
        contributed=contributed,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    types: str,
    region: None | str | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Response[Any | Refusal]:
    """Compare

     Each figure of 2-4 types side by side with its 95% interval, and Welch's t-test against the first.

    Args:
        types (str): 2 to 4 instance types, comma-separated: m7i.large,m7a.large
        region (None | str | Unset):
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
        types=types,
        region=region,
        format_=format_,
        contributed=contributed,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    types: str,
    region: None | str | Unset = UNSET,
    format_: str | Unset = "json",
    contributed: bool | Unset = False,
) -> Any | Refusal | None:
    """Compare

     Each figure of 2-4 types side by side with its 95% interval, and Welch's t-test against the first.

    Args:
        types (str): 2 to 4 instance types, comma-separated: m7i.large,m7a.large
        region (None | str | Unset):
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
            types=types,
            region=region,
            format_=format_,
            contributed=contributed,
        )
    ).parsed
