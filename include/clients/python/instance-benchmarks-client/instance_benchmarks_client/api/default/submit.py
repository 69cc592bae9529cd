from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.refusal import Refusal
from ...models.submit_contributed_result import SubmitContributedResult
from ...types import Response


def _get_kwargs(
    *,
    body: SubmitContributedResult,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/submissions",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Refusal | None:
    if response.status_code == 202:
        response_202 = response.json()
        return response_202

    if response.status_code == 400:
        response_400 = Refusal.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = Refusal.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = Refusal.from_dict(response.json())

        return response_413

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
    body: SubmitContributedResult,
) -> Response[Any | Refusal]:
    """Submit

     Contribute a result: the JSON document `benchrun all --contribute` wrote on your own EC2 instance,
    as the
    body. Answers its id and where to read its status back (docs/contributing-results.md).

    Args:
        body (SubmitContributedResult): A result document as `benchrun all --contribute` wrote it
            (benchmark-result.v1, with `contribution`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SubmitContributedResult,
) -> Any | Refusal | None:
    """Submit

     Contribute a result: the JSON document `benchrun all --contribute` wrote on your own EC2 instance,
    as the
    body. Answers its id and where to read its status back (docs/contributing-results.md).

    Args:
        body (SubmitContributedResult): A result document as `benchrun all --contribute` wrote it
            (benchmark-result.v1, with `contribution`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SubmitContributedResult,
) -> Response[Any | Refusal]:
    """Submit

     Contribute a result: the JSON document `benchrun all --contribute` wrote on your own EC2 instance,
    as the
    body. Answers its id and where to read its status back (docs/contributing-results.md).

    Args:
        body (SubmitContributedResult): A result document as `benchrun all --contribute` wrote it
            (benchmark-result.v1, with `contribution`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SubmitContributedResult,
) -> Any | Refusal | None:
    """Submit

     Contribute a result: the JSON document `benchrun all --contribute` wrote on your own EC2 instance,
    as the
    body. Answers its id and where to read its status back (docs/contributing-results.md).

    Args:
        body (SubmitContributedResult): A result document as `benchrun all --contribute` wrote it
            (benchmark-result.v1, with `contribution`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
