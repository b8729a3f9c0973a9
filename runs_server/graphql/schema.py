"""The executable schema, built from the SDL shipped in the ``runs_gql`` package.

The SDL is read from package data (not the source tree) so an installed wheel
serves the same schema the client was generated from.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from ariadne import make_executable_schema
from graphql import GraphQLSchema

from runs_server.graphql.mutations import WRITE_BINDABLES
from runs_server.graphql.resolvers import BINDABLES
from runs_server.graphql.run_fields import run_type
from runs_server.graphql.run_write_fields import run_write_type
from runs_server.graphql.scalars import SCALARS


def schema_sdl() -> str:
    return (files("runs_gql") / "graphql" / "schema.graphql").read_text(
        encoding="utf-8"
    )


@functools.cache
def executable_schema() -> GraphQLSchema:
    return schema_from_sdl(schema_sdl())


def schema_from_sdl(sdl: str) -> GraphQLSchema:
    """The server's resolvers bound to ``sdl`` (``serve --schema`` serves a copy)."""
    schema: GraphQLSchema = make_executable_schema(
        sdl, *BINDABLES, *WRITE_BINDABLES, run_type, run_write_type, *SCALARS
    )
    return schema
