"""The executable schema, built from the SDL shipped in the ``runs_gql`` package.

The SDL is read from package data (not the source tree) so an installed wheel
serves the same schema the client was generated from.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from ariadne import make_executable_schema
from graphql import GraphQLObjectType, GraphQLSchema

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
    return _bound(schema_sdl())


def schema_from_sdl(sdl: str) -> GraphQLSchema:
    """The server's resolvers bound to ``sdl`` (``serve --schema`` serves a copy).

    ``sdl`` may lack fields or types the server resolves (to play a W&B that
    lacks them): each field it declares gets the resolver of the field of the
    same type and name in the shipped schema, if there is one.
    """
    if sdl == schema_sdl():
        return _bound(sdl)
    shipped = executable_schema()
    scalars = [s for s in SCALARS if f"scalar {s.name}" in sdl]
    served: GraphQLSchema = make_executable_schema(sdl, *scalars)
    for name, served_type in served.type_map.items():
        ours = shipped.type_map.get(name)
        if isinstance(served_type, GraphQLObjectType) and isinstance(
            ours, GraphQLObjectType
        ):
            for field_name, field in served_type.fields.items():
                if field_name in ours.fields:
                    field.resolve = ours.fields[field_name].resolve
    return served


def _bound(sdl: str) -> GraphQLSchema:
    schema: GraphQLSchema = make_executable_schema(
        sdl, *BINDABLES, *WRITE_BINDABLES, run_type, run_write_type, *SCALARS
    )
    return schema
