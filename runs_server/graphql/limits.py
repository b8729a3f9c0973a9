"""Caps on what one request may ask for (see design.md, "The local server")."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

DEFAULT_FIRST = 50
MAX_FIRST = 1000
MAX_RESPONSE_ROWS = 1_000_000
# History values a request may read (decode) to build its answer, whatever it
# keeps: a sampledHistory spec reads rows x keys of every run it samples,
# events read every row before sampling. Counted before reading.
MAX_VALUES_READ = 20_000_000
# Each spec is one SQL query over the page; W&B's UI sends a handful per panel.
MAX_SPECS = 100
# The standard introspection query nests 13 levels (TypeRef's ofType chain)
# and selects about 100 fields; these leave it ample room.
MAX_DEPTH = 20
MAX_FIELDS = 5_000
MAX_QUERY_BYTES = 100_000
MAX_BODY_BYTES = 16 * 1024 * 1024
# Any string in the variables (filters, cursors, specs, names); the query text
# bounds its literals. A cursor holds a run's sort-key value, so it is generous.
MAX_VARIABLE_STRING_CHARS = 300_000
# Output bytes of one response (estimated as fields resolve, then checked on
# the encoded body), and requests executing at once: peak memory is bounded by
# about MAX_REQUESTS_IN_FLIGHT * 3 * MAX_RESPONSE_BYTES (result objects, the
# encoded body and its gzip copy) plus MAX_BODY_BYTES_HELD (PEAK_MEMORY_BYTES).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_REQUESTS_IN_FLIGHT = 4
# What one executing request may hold at its peak (result objects, the
# encoded body, its gzip copy); the query-cost estimate (``cost``) and the
# budgets above keep it there, and tests/server_bounds measures it.
MAX_REQUEST_MEMORY_BYTES = 3 * MAX_RESPONSE_BYTES
# Request bodies held (being read or executed) at once, all connections
# together (runs_server.http.admission admits each before reading it).
MAX_BODY_BYTES_HELD = 64 * 1024 * 1024
# Parsed query texts kept for reuse (runs_server.graphql.documents: 256 KiB
# of text at most, 100-250 bytes per character once parsed).
DOCUMENT_CACHE_BYTES = 64 * 1024 * 1024
# The server's peak above its idle size: every worker at its request budget
# plus the bodies held and the kept documents (the quick lane's requests are
# at most a few hundred fields). tests/reliability/test_hostile_server.py
# measures it.
PEAK_MEMORY_BYTES = (
    MAX_REQUESTS_IN_FLIGHT * MAX_REQUEST_MEMORY_BYTES
    + MAX_BODY_BYTES_HELD
    + DOCUMENT_CACHE_BYTES
)
# Wall-clock seconds one request may execute, and may take to send its body.
MAX_REQUEST_SECONDS = 120.0
BODY_TIMEOUT_SECONDS = 30.0

# ``extensions.code`` of refusals: too large (rows or bytes; ask for less, e.g.
# half a page) and over the time limit.
RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
TIMED_OUT = "REQUEST_TIMEOUT"


class QueryShapeRule(ValidationRule):
    """Refuses operations nested deeper than MAX_DEPTH or larger than MAX_FIELDS.

    Fragments are expanded, so a fragment cannot hide depth or size; a
    fragment cycle stops the walk (graphql-core reports the cycle itself).
    """

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_args: Any
    ) -> None:
        context: ValidationContext = self.context
        stats = {"fields": 0, "depth": 0}
        self._walk(node.selection_set, 1, stats, frozenset())
        name = node.name.value if node.name else "(anonymous)"
        if stats["depth"] > MAX_DEPTH:
            context.report_error(
                GraphQLError(
                    f"operation {name} nests fields {stats['depth']} levels deep; "
                    f"the limit is {MAX_DEPTH}: select fewer nested levels",
                    node,
                )
            )
        if stats["fields"] > MAX_FIELDS:
            context.report_error(
                GraphQLError(
                    f"operation {name} selects more than {MAX_FIELDS} fields "
                    "(fragments expanded): split it into smaller queries",
                    node,
                )
            )

    def _walk(
        self,
        selection_set: SelectionSetNode | None,
        depth: int,
        stats: dict[str, int],
        seen: frozenset[str],
    ) -> None:
        if selection_set is None or stats["fields"] > MAX_FIELDS:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                stats["fields"] += 1
                stats["depth"] = max(stats["depth"], depth)
                self._walk(selection.selection_set, depth + 1, stats, seen)
            elif isinstance(selection, InlineFragmentNode):
                self._walk(selection.selection_set, depth, stats, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in seen:
                    self._walk(fragment.selection_set, depth, stats, seen | {name})
