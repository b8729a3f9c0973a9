"""graphql-core execution that passes pre-encoded lists through untouched.

graphql-core completes a list value item by item (a serialize call per
history row); for a page of history that is most of the server's time. A
resolver may instead return the whole list already encoded as an
``orjson.Fragment``, which orjson splices into the response as is.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
)
from graphql.pyutils import Path


class PreEncodedExecutionContext(ExecutionContext):
    # Overriding the list step only (not ``complete_value``, which runs for
    # every value of a response: ~1,200 for a 50-run listing page) keeps the
    # per-value path graphql-core's own.
    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        if isinstance(result, orjson.Fragment):
            return result
        return super().complete_list_value(return_type, field_nodes, info, path, result)
