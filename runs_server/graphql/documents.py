"""Parsed and validated GraphQL documents, kept by query text.

Clients send the same few query texts over and over (a listing, a history
page), with different variables. Parsing and validating such a text took
about a third of a 50-run listing page's server time, and left ~900 objects
in reference cycles per request for the collector (its pauses were the
page's latency tail). The cache keeps, per text, the parsed document and
whether it passed the checks that depend on the text alone (graphql-core's
spec rules and ``QueryShapeRule``); only the cost estimate, which depends on
the variables, runs for every request.

Bounds: only texts that passed the checks are kept (a text with any
validation error is parsed and validated whole every time: the same errors,
in the same order, and nothing a stream of junk texts could fill memory
with); at most ``MAX_ENTRIES`` texts of at most ``MAX_CACHED_QUERY_CHARS``
characters each and ``MAX_CACHED_TOTAL_CHARS`` in all (least recently used
leave first). A parsed text keeps graphql-core's nodes and tokens, 100-250
bytes per character (the most for many short fields), so the cache holds at
most about 64 MB per worker; our clients' texts are 1-3 KiB each. Longer
texts are parsed and validated per request as before.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from runs_server.graphql.cost import cost_rule, over_cost
from runs_server.graphql.limits import QueryShapeRule

MAX_ENTRIES = 256
MAX_CACHED_QUERY_CHARS = 16 * 1024
MAX_CACHED_TOTAL_CHARS = 256 * 1024


@dataclass
class Entry:
    document: DocumentNode
    fragments: dict[str, FragmentDefinitionNode]
    operations: list[OperationDefinitionNode]
    valid_for: GraphQLSchema | None = None  # passed the static rules of it
    # Puts a new entry into its cache once it passed them (then None); given
    # the entry, so no reference cycle is left for a text that never passes.
    keep: Callable[[Entry], None] | None = None


class DocumentCache:
    """Documents by query text; safe to share between threads."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_query_chars: int = MAX_CACHED_QUERY_CHARS,
        max_total_chars: int = MAX_CACHED_TOTAL_CHARS,
    ) -> None:
        self.max_entries = max_entries
        self.max_query_chars = max_query_chars
        self.max_total_chars = max_total_chars
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._chars = 0  # of the texts kept
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, query: str) -> DocumentNode | None:
        """The cached document of ``query``, if any (nothing is parsed)."""
        with self._lock:
            entry = self._entries.get(query)
        return None if entry is None else entry.document

    @property
    def chars(self) -> int:
        """The characters of the texts kept."""
        return self._chars

    def entry(self, query: Any) -> Entry | None:
        """The entry of ``query``, parsed now if new (kept once ``validator``
        passes it); None for a text that is not a string, too long to keep,
        or does not parse (the caller's uncached path reports it)."""
        if not isinstance(query, str) or len(query) > self.max_query_chars:
            return None
        with self._lock:
            entry = self._entries.get(query)
            if entry is not None:
                self._entries.move_to_end(query)
                return entry
        try:
            document = parse(query)
        except GraphQLError:
            return None
        entry = Entry(
            document,
            {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            },
            [d for d in document.definitions if isinstance(d, OperationDefinitionNode)],
        )
        entry.keep = functools.partial(self._keep, query)
        return entry

    def _keep(self, query: str, entry: Entry) -> None:
        with self._lock:
            old = self._entries.pop(query, None)
            self._chars -= 0 if old is None else len(query)
            self._entries[query] = entry
            self._chars += len(query)
            while (
                len(self._entries) > self.max_entries
                or self._chars > self.max_total_chars
            ):
                text, _ = self._entries.popitem(last=False)
                self._chars -= len(text)


def validator(entry: Entry, variables: Any) -> Any:
    """A ``query_validator`` for ariadne's ``graphql_sync``: the errors that
    ``validate`` with the spec rules, ``QueryShapeRule`` and the cost rule
    would give, checking the text-only rules once per schema."""
    values: Mapping[str, Any] = variables if isinstance(variables, Mapping) else {}

    def check(
        schema: GraphQLSchema, document: DocumentNode, *_a: Any, **_k: Any
    ) -> Sequence[GraphQLError]:
        if entry.valid_for is not schema:
            if validate(schema, document, [*specified_rules, QueryShapeRule]):
                return validate(
                    schema,
                    document,
                    [*specified_rules, QueryShapeRule, cost_rule(values)],
                )
            entry.valid_for = schema
            if entry.keep is not None:
                entry.keep(entry)
                entry.keep = None
        return [
            error
            for operation in entry.operations
            if (error := over_cost(entry.fragments.get, operation, values)) is not None
        ]

    return check
