"""The runs after a cursor named first, so that their pages go by name.

Pages after a cursor go one after another: each waits for the previous
page's end cursor. For Arrow pages the columnar endpoint names the runs after
the cursor in one cheap request (``RunNames``: the listing's SQL, no history),
so that ``BulkFetcher`` asks all their pages by name, several at once, over
the server's workers. Past the server's cap an answer names the first runs
and the cursor after them (``endCursor``): their pages go by name, then the
next names are asked from that cursor, so a project of any size keeps its
pages parallel. A server that neither names them all nor says where the rest
start (an older server) leaves the pages to the cursor.
"""

from __future__ import annotations

from typing import Any, Protocol

from runs_gql.base_model import UNSET

from .._exceptions import GraphQLError, ServerError
from ..transport.flows import Flow, call_on
from ..transport.page_guard import PageGuard
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


__all__ = [
    "MAX_NAMES_PER_ANSWER",
    "RUN_NAMES_OPERATION",
    "Fetcher",
    "names_flow",
    "names_guard",
    "planned",
]

RUN_NAMES_OPERATION = "RunNames"
# The most names one answer may hold (runs_server sends at most 20,000): a
# larger answer is refused, as no honest server sends it.
MAX_NAMES_PER_ANSWER = 100_000
# Sent as the request's text, not executed: the endpoint reads the variables.
RUN_NAMES_QUERY = (
    "query RunNames($entity: String, $project: String!, $filters: JSONString, "
    "$order: String, $cursor: String) { project(name: $project, entityName: "
    "$entity) { runs(filters: $filters, order: $order, after: $cursor) "
    "{ edges { node { name } } } } }"
)


def names_guard(fetcher: Fetcher) -> PageGuard:
    """The guard of one walk over ``RunNames`` answers: each must advance."""
    where = f"run-name plan for {fetcher.entity}/{fetcher.project}"
    return PageGuard(where, MAX_NAMES_PER_ANSWER, noun="run names")


def planned(fetcher: Fetcher, start: Position, guard: PageGuard) -> Flow[Position]:
    """``start`` with the runs after its cursor named, when ``fetcher``'s
    pages are Arrow pages and the server names them: all of them (no cursor
    left), or the first ones and the cursor after them (more to plan from
    it); else ``start``. ``guard`` (``names_guard``) spans the walk's plans."""
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
    answer = yield from names_flow(fetcher.client, variables)
    if answer is None:
        return start
    names, end = answer
    fresh = guard.admit(names, has_next=end is not None, end_cursor=end)
    kept = [name for name, new in zip(names, fresh, strict=True) if new]
    return Position((*start.names, *kept), end, end is not None)


def names_flow(
    client: object, variables: dict[str, Any]
) -> Flow[tuple[list[str], str | None] | None]:
    """The names of the runs after ``variables["cursor"]`` (entity, project,
    filters and order as a page's), in the collection's order, from the
    columnar endpoint (``has_form`` said there is one), and the cursor after
    them when they are not all (None when they are). None when the server
    neither names them all nor says where the rest start (an older server,
    a server without the operation, a project it does not show): the caller
    pages by cursor then."""
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
    if not isinstance(project, dict):
        return None
    end = project.get("endCursor")
    if project.get("complete") is True:
        end = None
    elif not isinstance(end, str) or not end:
        return None  # incomplete, and no cursor to go on from
    names = project.get("runNames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ServerError(f"{columnar.url} sent run names that are not a list of text")
    return names, end
