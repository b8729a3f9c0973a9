"""Sync base client for the generated GraphQL client (copied into runs_gql).

Handwritten, not generated: ariadne-codegen's stock base client fails
``mypy --strict`` when given an ``httpx.Client`` and closes a client it does
not own. This one is typed on ``httpx.Client`` and never closes it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx

from .base_model import UNSET
from .exceptions import (
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    GraphQLClientInvalidResponseError,
)

_Self = TypeVar("_Self", bound="BaseClient")


class BaseClient:
    """Posts operations to one GraphQL endpoint over a caller-owned ``httpx.Client``."""

    def __init__(
        self,
        url: str,
        http_client: httpx.Client,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.http_client = http_client
        self.headers = dict(headers or {})

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        # The http client belongs to the caller, who closes it.
        return None

    def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        payload = self.payload(query, operation_name, variables)
        return self.http_client.post(
            self.url, json=payload, headers=self.headers or None, **kwargs
        )

    @staticmethod
    def payload(
        query: str, operation_name: str | None, variables: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The JSON body of an operation (shared with ``AsyncBaseClient``)."""
        # Arguments the caller did not give are left out, not sent as null.
        given = {k: v for k, v in (variables or {}).items() if v is not UNSET}
        payload: dict[str, Any] = {"query": query, "variables": given}
        if operation_name:
            payload["operationName"] = operation_name
        return payload

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        return self.read_data(response)

    @staticmethod
    def read_data(response: httpx.Response) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer (shared with ``AsyncBaseClient``)."""
        if not 200 <= response.status_code <= 299:
            raise GraphQLClientHttpError(
                status_code=response.status_code, response=response
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphQLClientInvalidResponseError(response=response) from exc
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            raise GraphQLClientInvalidResponseError(response=response)
        errors = body.get("errors")
        data = body.get("data")
        if errors:
            raise GraphQLClientGraphQLMultiError.from_errors_dicts(
                errors_dicts=errors, data=data
            )
        if not isinstance(data, dict):
            raise GraphQLClientInvalidResponseError(response=response)
        return data
