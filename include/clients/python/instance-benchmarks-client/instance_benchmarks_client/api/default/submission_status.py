from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.refusal import Refusal
from ...types import Response


def _get_kwargs(
    submission_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/submissions/{submission_id}".format(
            submission_id=quote(str(submission_id), safe=""),
        ),
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
    submission_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Any | Refusal]:
    """Submission Status

     A submission's status (received, checking, awaiting review, accepted, rejected) with every check's
    verdict
    and the reasons; only its contributor can read it.

    Args:
        submission_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        submission_id=submission_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    submission_id: str,
    *,
    client: AuthenticatedClient,
) -> Any | Refusal | None:
    """Submission Status

     A submission's status (received, checking, awaiting review, accepted, rejected) with every check's
    verdict
    and the reasons; only its contributor can read it.

    Args:
        submission_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return sync_detailed(
        submission_id=submission_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    submission_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Any | Refusal]:
    """Submission Status

     A submission's status (received, checking, awaiting review, accepted, rejected) with every check's
    verdict
    and the reasons; only its contributor can read it.

    Args:
        submission_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Refusal]
    """

    kwargs = _get_kwargs(
        submission_id=submission_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    submission_id: str,
    *,
    client: AuthenticatedClient,
) -> Any | Refusal | None:
    """Submission Status

     A submission's status (received, checking, awaiting review, accepted, rejected) with every check's
    verdict
    and the reasons; only its contributor can read it.

    Args:
        submission_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Refusal
    """

    return (
        await asyncio_detailed(
            submission_id=submission_id,
            client=client,
        )
    ).parsed
