"""Async base client for the generated GraphQL client (copied into runs_gql).

Handwritten, not generated, for the reasons of ``base_client.py``: typed on
``httpx.AsyncClient`` and never closing the client it is given. The payload
and the answer's checks are ``BaseClient``'s, so both clients send and read
operations the same way; only ``execute`` awaits.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx

from .base_client import BaseClient

_Self = TypeVar("_Self", bound="AsyncBaseClient")


class AsyncBaseClient:
    """Posts operations to one GraphQL endpoint over a caller-owned
    ``httpx.AsyncClient``."""

    def __init__(
        self,
        url: str,
        http_client: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.http_client = http_client
        self.headers = dict(headers or {})

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        # The http client belongs to the caller, who closes it.
        return None

    async def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        payload = BaseClient.payload(query, operation_name, variables)
        return await self.http_client.post(
            self.url, json=payload, headers=self.headers or None, **kwargs
        )

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        return BaseClient.read_data(response)
