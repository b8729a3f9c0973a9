"""Errors raised by the generated client's base (copied into runs_gql).

runs_client maps these to its own exception hierarchy; they exist so that the
generated package works on its own too.
"""

from __future__ import annotations

from typing import Any

import httpx


class GraphQLClientError(Exception):
    """Base of the generated client's errors."""


class GraphQLClientHttpError(GraphQLClientError):
    def __init__(self, status_code: int, response: httpx.Response) -> None:
        super().__init__(f"HTTP status code: {status_code}")
        self.status_code = status_code
        self.response = response


class GraphQLClientInvalidResponseError(GraphQLClientError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__("Invalid response format.")
        self.response = response


class GraphQLClientGraphQLError(GraphQLClientError):
    def __init__(
        self,
        message: str,
        locations: list[dict[str, int]] | None = None,
        path: list[str | int] | None = None,
        extensions: dict[str, object] | None = None,
        orginal: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.locations = locations
        self.path = path
        self.extensions = extensions
        self.orginal = orginal

    @classmethod
    def from_dict(cls, error: dict[str, Any]) -> GraphQLClientGraphQLError:
        return cls(
            message=str(error.get("message", "")),
            locations=error.get("locations"),
            path=error.get("path"),
            extensions=error.get("extensions"),
            orginal=error,
        )


class GraphQLClientGraphQLMultiError(GraphQLClientError):
    def __init__(
        self,
        errors: list[GraphQLClientGraphQLError],
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
        self.data = data

    @classmethod
    def from_errors_dicts(
        cls, errors_dicts: list[dict[str, Any]], data: dict[str, Any] | None = None
    ) -> GraphQLClientGraphQLMultiError:
        return cls(
            errors=[GraphQLClientGraphQLError.from_dict(e) for e in errors_dicts],
            data=data,
        )
