"""Per-request state the resolvers share."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError, GraphQLResolveInfo

from runs_server.graphql.limits import MAX_RESPONSE_ROWS
from runs_server.history import HistoryExports
from runs_server.store import Store, User


@dataclass
class RequestContext:
    store: Store
    user: User | None
    max_rows: int = MAX_RESPONSE_ROWS
    rows_spent: int = 0
    # Where parquetHistory writes files, and the URL links to them start with
    # (the server as the client reached it); None: exports not served.
    exports: HistoryExports | None = None
    base_url: str = ""

    def spend_rows(self, count: int) -> None:
        """Charge ``count`` history/event rows to this response's row cap."""
        if self.rows_spent + count > self.max_rows:
            raise GraphQLError(
                f"this request would return more than {self.max_rows:,} history "
                "rows in one response; lower per_page (the runs page size) or samples"
            )
        self.rows_spent += count


def request_context(info: GraphQLResolveInfo) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context
