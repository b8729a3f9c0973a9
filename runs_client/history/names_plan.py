"""The runs after a cursor named first, so that their pages go by name.

Pages after a cursor go one after another: each waits for the previous
page's end cursor. For Arrow pages the columnar endpoint names the runs after
the cursor in one cheap request (``RunNames``: the listing's SQL, no history),
so that ``BulkFetcher`` asks all their pages by name, several at once, over
the server's workers. A server that does not name them all in one answer (an
older server, more runs than its cap) leaves the pages to the cursor.
"""

from __future__ import annotations

from typing import Any, Protocol

from runs_gql.base_model import UNSET

from .._exceptions import GraphQLError, ServerError
from ..transport.flows import Flow, call_on
from .arrow_pages import columnar_client, has_form
from .pages import HistoryQuery, Position


class Fetcher(Protocol):
    """What ``planned`` reads of a ``bulk.BulkFetcher``."""

    client: Any
    entity: str
    project: str
    order: str | None
    query: HistoryQuery
    max_in_flight: int
    row_objects: bool
    _filters_json: str | None


__all__ = ["RUN_NAMES_OPERATION", "Fetcher", "names_flow", "planned"]

RUN_NAMES_OPERATION = "RunNames"
# Sent as the request's text, not executed: the endpoint reads the variables.
RUN_NAMES_QUERY = (
    "query RunNames($entity: String, $project: String!, $filters: JSONString, "
    "$order: String, $cursor: String) { project(name: $project, entityName: "
    "$entity) { runs(filters: $filters, order: $order, after: $cursor) "
    "{ edges { node { name } } } } }"
)


def planned(fetcher: Fetcher, start: Position) -> Flow[Position]:
    """``start`` with the runs after its cursor named, when ``fetcher``'s
    pages are Arrow pages and the server names them all; else ``start``."""
    if (
        not start.more
        or fetcher.max_in_flight < 2
        or not (fetcher.row_objects and has_form(fetcher.client, fetcher.query))
    ):
        return start
    filters = fetcher._filters_json
    variables: dict[str, Any] = {
        "entity": fetcher.entity,
        "project": fetcher.project,
        "cursor": start.cursor if start.cursor is not None else UNSET,
        "order": fetcher.order if fetcher.order is not None else UNSET,
        "filters": filters if filters is not None else UNSET,
    }
    names = yield from names_flow(fetcher.client, variables)
    if names is None:
        return start
    return Position((*start.names, *names), None, False)


def names_flow(client: object, variables: dict[str, Any]) -> Flow[list[str] | None]:
    """The names of the runs after ``variables["cursor"]`` (entity, project,
    filters and order as a page's), in the collection's order, from the
    columnar endpoint (``has_form`` said there is one). None when the server
    does not name them all in one answer (an older server, more runs than its
    cap, a project it does not show): the caller pages by cursor then."""
    columnar = columnar_client(client)
    assert columnar is not None
    sent = {k: v for k, v in variables.items() if v is not UNSET}
    try:
        response = yield call_on(
            columnar, "execute", RUN_NAMES_QUERY,
            operation_name=RUN_NAMES_OPERATION, variables=sent,
        )  # fmt: skip
        data = columnar.get_data(response)
    except GraphQLError:  # a server without the operation refuses it
        return None
    project = data.get("project")
    if not isinstance(project, dict) or project.get("complete") is not True:
        return None
    names = project.get("runNames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ServerError(f"{columnar.url} sent run names that are not a list of text")
    return names
