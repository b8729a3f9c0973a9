"""The cost of a query, estimated before it runs: refused up front when too high.

Cost counts the fields the response would hold: every selected field counts
(``id`` and ``readOnly`` too, aliases each on their own), times the number of
times it is resolved, which nested connections multiply: the fields under
``runs(first: 1000) { edges { ... } }`` count 1,000 times, and a
``project { runs { ... } }`` under each of those runs 50 times more (``first``
defaults to 50 where absent). Fragments are expanded. History payloads are
not fields: their rows and bytes are charged as they are read
(``RequestContext``).

Each resolved field costs memory (result objects, rows read to build them),
so ``MAX_QUERY_COST`` bounds a request's memory before any of it is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    VariableNode,
)

from runs_server.graphql.limits import DEFAULT_FIRST, MAX_FIRST, RESPONSE_TOO_LARGE
from runs_server.listing.ordering import OrderError, parse_order

# Fields resolved per request, estimated: a page of 1,000 runs with 90 fields
# each fits; nested pages of runs under runs do not.
MAX_QUERY_COST = 100_000
# Connections (their ``edges`` are lists sized by ``first``), and how many
# items one holds when ``first`` is absent: ``users`` returns at most
# MAX_FIRST, a user's ``teams`` all of them (we assume a page's worth).
CONNECTIONS = {
    "runs": DEFAULT_FIRST,
    "sweeps": DEFAULT_FIRST,
    "models": DEFAULT_FIRST,
    "files": DEFAULT_FIRST,
    "teams": DEFAULT_FIRST,
    "users": MAX_FIRST,
}
# A quick request (served on its own lane, see runs_server.http.lanes): at
# most this many fields, none of them reading history, filtering or ordering.
QUICK_MAX_COST = 200
# A request cheap enough to run on the event loop itself (see lanes): at most
# this many fields, no history, no filter, runs in their indexed order only
# (a 50-run listing page of a dozen fields is about 650).
INLINE_MAX_COST = 1_000
# Fields that read history or build files: what a quick request may not ask for.
HEAVY_FIELDS = frozenset(
    {"history", "sampledHistory", "events", "parquetHistory", "historyKeys"}
)


FragmentLookup = Callable[[str], FragmentDefinitionNode | None]


class _Walk:
    """Sums the cost of one operation; stops adding once over ``limit``."""

    def __init__(
        self,
        fragment: FragmentLookup,
        variables: Mapping[str, Any],
        limit: int,
    ) -> None:
        self.fragment = fragment
        self.variables = variables
        self.limit = limit
        self.cost = 0
        self.heavy = False  # reads history or builds files
        self.scans = False  # filters or orders runs (may scan a project)
        self.sorts = False  # filters runs, or orders them off the index

    def page_size(self, node: FieldNode) -> int:
        name = node.name.value
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return _clamped(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return _clamped(str(given))
                if given is None:
                    return CONNECTIONS[name]
            return MAX_FIRST  # anything else is refused when it runs
        return CONNECTIONS[name]

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        times: int,
        page: int | None,
        seen: frozenset[str],
    ) -> None:
        """Add the fields of ``selection_set``, each resolved ``times`` times;
        ``page``: the size of the connection this set belongs to, if any."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if self.cost > self.limit:
                return
            if isinstance(selection, FieldNode):
                self.field(selection, times, page, seen)
            elif isinstance(selection, InlineFragmentNode):
                self.selections(selection.selection_set, times, page, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragment(name)
                if fragment is not None and name not in seen:
                    self.selections(fragment.selection_set, times, page, seen | {name})

    def field(
        self, node: FieldNode, times: int, page: int | None, seen: frozenset[str]
    ) -> None:
        name = node.name.value
        self.cost += times
        self.heavy = self.heavy or name in HEAVY_FIELDS
        for argument in node.arguments or ():
            if argument.name.value in ("filters", "order"):
                self.scans = True
                self.sorts = self.sorts or not self._indexed(argument)
        if node.selection_set is None:
            return
        if name == "edges" and page is not None:
            # A connection's items: what is under them is resolved per item.
            self.selections(node.selection_set, times * page, None, seen)
        elif name in CONNECTIONS:
            self.selections(node.selection_set, times, self.page_size(node), seen)
        else:
            self.selections(node.selection_set, times, None, seen)

    def _indexed(self, argument: ArgumentNode) -> bool:
        """Whether a ``filters`` or ``order`` argument keeps the runs in
        their indexed order: no filter, the creation-time order."""
        value: Any = argument.value
        if isinstance(value, VariableNode):
            value = self.variables.get(value.name.value)
        elif isinstance(value, StringValueNode):
            value = value.value
        elif isinstance(value, NullValueNode):
            value = None
        else:
            return False
        if argument.name.value == "filters":
            return value is None or value in ("", "{}")
        if value is not None and not isinstance(value, str):
            return False
        try:
            return parse_order(value).indexed
        except OrderError:
            return False  # refused when it runs, on a thread like the rest


def _clamped(digits: str) -> int:
    # A page size past MAX_FIRST is refused when it runs; count it as the cap.
    return max(0, min(int(digits), MAX_FIRST)) if len(digits) < 12 else MAX_FIRST


def estimate(
    fragment: FragmentLookup,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    limit: int = MAX_QUERY_COST,
) -> _Walk:
    """The walk of ``operation``: its ``cost`` (the fields it would resolve,
    counted up to just past ``limit``), whether it is ``heavy`` (reads
    history) and whether it ``scans`` (filters or orders runs)."""
    walk = _Walk(fragment, variables, limit)
    walk.selections(operation.selection_set, 1, None, frozenset())
    return walk


def _walks(
    document: DocumentNode, variables: Mapping[str, Any], limit: int
) -> list[_Walk]:
    """The walk of each operation of ``document``, counted up to ``limit``."""
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    return [
        estimate(fragments.get, d, variables, limit)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]


def is_quick(document: DocumentNode, variables: Mapping[str, Any]) -> bool:
    """Whether every operation of ``document`` is cheap: at most
    QUICK_MAX_COST fields, no history, no filter or order."""
    return not any(
        w.cost > QUICK_MAX_COST or w.heavy or w.scans
        for w in _walks(document, variables, QUICK_MAX_COST)
    )


def is_inline(document: DocumentNode, variables: Mapping[str, Any]) -> bool:
    """Whether ``document`` is cheap enough to run on the event loop: only
    queries (a mutation may wait for another process's write lock), at most
    INLINE_MAX_COST fields, no history, runs unfiltered in their indexed
    order (no scan of a project)."""
    if any(
        isinstance(d, OperationDefinitionNode) and d.operation != OperationType.QUERY
        for d in document.definitions
    ):
        return False
    return not any(
        w.cost > INLINE_MAX_COST or w.heavy or w.sorts
        for w in _walks(document, variables, INLINE_MAX_COST)
    )


def over_cost(
    fragment: FragmentLookup,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    limit: int = MAX_QUERY_COST,
) -> GraphQLError | None:
    """The error refusing ``operation`` when estimated over ``limit`` fields
    (``extensions.code`` RESPONSE_TOO_LARGE: ask for less), else None.
    ``fragment``: the document's fragment definition by name, or None."""
    if estimate(fragment, operation, variables, limit).cost <= limit:
        return None
    name = operation.name.value if operation.name else "(anonymous)"
    return GraphQLError(
        f"operation {name} would resolve more than {limit:,} "
        "fields (nested connections multiply their page sizes, "
        "first defaulting to 50; every alias counts): ask for "
        "less, e.g. a smaller first or fewer aliases",
        operation,
        extensions={"code": RESPONSE_TOO_LARGE},
    )


def cost_rule(
    variables: Mapping[str, Any] | None, limit: int = MAX_QUERY_COST
) -> type[ValidationRule]:
    """A validation rule refusing operations estimated over ``limit`` fields,
    with ``extensions.code`` RESPONSE_TOO_LARGE (ask for less)."""
    values: Mapping[str, Any] = variables if isinstance(variables, Mapping) else {}

    class QueryCostRule(ValidationRule):
        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_args: Any
        ) -> None:
            error = over_cost(self.context.get_fragment, node, values, limit)
            if error is not None:
                self.context.report_error(error)

    return QueryCostRule
