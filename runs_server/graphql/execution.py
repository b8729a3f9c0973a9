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
    GraphQLOutputType,
    GraphQLResolveInfo,
    get_nullable_type,
    is_list_type,
)
from graphql.pyutils import Path


class PreEncodedExecutionContext(ExecutionContext):
    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        if isinstance(result, orjson.Fragment) and is_list_type(
            get_nullable_type(return_type)  # type: ignore[arg-type]
        ):
            return result
        return super().complete_value(return_type, field_nodes, info, path, result)
