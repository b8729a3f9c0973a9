"""Run fields W&B may not serve, dropped from an operation when it says so.

No public source shows ``Run.host`` or ``Run.updatedAt``, and the result types
of ``projectId``, ``systemMetrics`` and ``events`` are shown only weakly
(tests/contract/evidence/wandb_schema.json). If W&B answers "Cannot query
field 'host' on type 'Run'", the operation is sent again without that field,
and the answer shows it as null, as a run without a host would; the client
remembers the field and leaves it out of later operations. A field that is
the only one its selection asks for (``run { events }``) cannot be dropped:
the error then says that this server does not serve it (so too when only
the run's id or name would remain: ``RunsEventsPage`` reads nothing else).

Operations are the generated, printed ones: one field per line, so a field is
dropped by removing its line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .._exceptions import GraphQLError, RequestInfo

__all__ = [
    "DROPPED_KEY",
    "OPTIONAL_RUN_FIELDS",
    "Dropped",
    "OptionalFields",
    "asend_dropping",
    "fill_dropped",
    "missing_run_field",
    "noted",
    "send_dropping",
]

# Each use of a field left out of an operation, with the other fields of its
# selection; a response's extensions hold it under DROPPED_KEY.
Dropped = list[tuple[str, frozenset[str]]]
DROPPED_KEY = "runs_client.dropped"
logger = logging.getLogger("runs_client")

OPTIONAL_RUN_FIELDS = frozenset(
    {"host", "updatedAt", "projectId", "systemMetrics", "events"}
)

# A selection left with only these reads nothing useful: not droppable there.
_IDENTIFIERS = frozenset({"id", "name"})
_MISSING = re.compile(r"""Cannot query field ["'](\w+)["'] on type ["']Run["']""")
# A field line: the field with optional arguments and directives
# (``@include(if: $x)``), nothing else.
_FIELD_LINE = r"^[ \t]*{name}(\([^()\n]*\))?([ \t]+@\w+(\([^()\n]*\))?)*[ \t]*\n"


def missing_run_field(error: GraphQLError) -> str | None:
    """The optional Run field a GraphQL error says the server lacks."""
    for item in error.errors or [{"message": str(error)}]:
        match = _MISSING.search(str(item.get("message", "")))
        if match and match[1] in OPTIONAL_RUN_FIELDS:
            return match[1]
    return None


def _block_fields(query: str, start: int) -> list[str]:
    """Field names of the selection set holding the line at ``start``."""
    open_at, depth = start, 0
    while open_at > 0:  # back to the brace that opens this selection
        open_at -= 1
        if query[open_at] == "}":
            depth += 1
        elif query[open_at] == "{":
            if depth == 0:
                break
            depth -= 1
    names: list[str] = []
    depth, i = 0, open_at + 1
    line_start = True
    while i < len(query):  # bounded by the query's length
        char = query[i]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                break
            depth -= 1
        elif line_start and depth == 0:
            match = re.match(r"[ \t]*(\.\.\.)?(\w+)", query[i:])
            if match:
                names.append(("..." if match[1] else "") + match[2])
        line_start = char == "\n"
        i += 1
    return names


class OptionalFields:
    """The optional Run fields a server lacks, learned from its errors."""

    def __init__(self) -> None:
        self.missing: set[str] = set()
        self._lock = threading.Lock()

    def learn(self, field: str) -> None:
        with self._lock:
            self.missing.add(field)

    def refused(self, info: RequestInfo, exc: GraphQLError) -> bool:
        """Whether ``exc`` refuses an optional field not yet known missing
        (then learned: the operation is worth sending again without it)."""
        field = missing_run_field(exc)
        if field is None or field in self.missing:
            return False
        logger.warning(
            "%s: the server has no Run.%s; leaving it out (it reads as null)",
            info,
            field,
        )
        self.learn(field)
        return True

    def prepared(
        self, info: RequestInfo, query: str, variables: dict[str, Any]
    ) -> tuple[str, Dropped, dict[str, Any]]:
        """``query`` without the optional fields this server lacks, what was
        dropped, and the variables still used."""
        if not self.missing:
            return query, [], variables
        try:
            query, dropped = self.without(query)
        except ValueError as exc:
            raise GraphQLError(
                f"{info}: this server does not serve Run.{exc} (it answered "
                f"\"Cannot query field '{exc}' on type 'Run'\"), and this "
                "operation asks for nothing else: what it reads is not available "
                "from this server.",
                request=info,
            ) from None
        query, unused = unused_variables(query)
        return query, dropped, {k: v for k, v in variables.items() if k not in unused}

    def without(self, query: str) -> tuple[str, Dropped]:
        """``query`` without the learned missing fields, and for each use
        dropped the field and the other fields of its selection (keys that a
        response object holding it has; fragments spread there add more).

        Raises:
            ValueError: a dropped field is the only one its selection asks for.
        """
        with self._lock:
            missing = sorted(self.missing)
        dropped: Dropped = []
        for name in missing:
            pattern = re.compile(_FIELD_LINE.format(name=name), re.MULTILINE)
            while (match := pattern.search(query)) is not None:  # one per use
                siblings = frozenset(
                    f
                    for f in _block_fields(query, match.start())
                    if f not in missing and not f.startswith("...")
                )
                if not siblings - _IDENTIFIERS:
                    raise ValueError(name)
                dropped.append((name, siblings))
                query = query[: match.start()] + query[match.end() :]
        return query, dropped


_HEADER = re.compile(r"^(query|mutation)\s+\w+\s*\((?P<vars>[^)]*)\)", re.MULTILINE)
_VARIABLE = re.compile(r"\$(\w+)\s*:[^$]*")


def unused_variables(query: str) -> tuple[str, set[str]]:
    """``query`` without the variable definitions nothing uses any more (a
    dropped field may have been their only use), and their names."""
    header = _HEADER.search(query)
    if header is None:
        return query, set()
    body = query[header.end() :]
    kept, unused = [], set()
    for definition in _VARIABLE.finditer(header["vars"]):
        name = definition[1]
        if re.search(rf"\${name}\b", body):
            kept.append(definition[0].strip().rstrip(",").strip())
        else:
            unused.add(name)
    if not unused:
        return query, unused
    start, end = header.span("vars")
    return query[:start] + ", ".join(kept) + query[end:], unused


def send_dropping(
    fields: OptionalFields,
    info: RequestInfo,
    query: str,
    variables: dict[str, Any],
    send: Callable[[str, dict[str, Any]], httpx.Response],
) -> httpx.Response:
    """``send`` the operation without the fields this server lacks; on a
    refusal naming another optional field, learn it and send again (at most
    once per field). The response notes what was dropped (``DROPPED_KEY``)."""
    for _ in range(len(OPTIONAL_RUN_FIELDS) + 1):
        sent, dropped, sent_variables = fields.prepared(info, query, variables)
        try:
            response = send(sent, sent_variables)
        except GraphQLError as exc:
            if not fields.refused(info, exc):
                raise
            continue
        return noted(response, dropped)
    raise AssertionError("unreachable: each optional field is learned once")


async def asend_dropping(
    fields: OptionalFields,
    info: RequestInfo,
    query: str,
    variables: dict[str, Any],
    send: Callable[[str, dict[str, Any]], Awaitable[httpx.Response]],
) -> httpx.Response:
    """As ``send_dropping``, awaiting ``send`` (``AsyncRetryingClient``)."""
    for _ in range(len(OPTIONAL_RUN_FIELDS) + 1):
        sent, dropped, sent_variables = fields.prepared(info, query, variables)
        try:
            response = await send(sent, sent_variables)
        except GraphQLError as exc:
            if not fields.refused(info, exc):
                raise
            continue
        return noted(response, dropped)
    raise AssertionError("unreachable: each optional field is learned once")


def noted(response: httpx.Response, dropped: Dropped) -> httpx.Response:
    """``response``, noting what was dropped from its operation."""
    if dropped:
        response.extensions[DROPPED_KEY] = dropped
    return response


def fill_dropped(data: Any, dropped: Dropped | None) -> None:
    """Show each dropped field as null in every response object that holds
    all the other fields of its selection."""
    if not dropped:
        return
    stack = [data]
    while stack:  # bounded: each JSON node is visited once
        node = stack.pop()
        if isinstance(node, dict):
            for name, markers in dropped:
                if name not in node and markers <= node.keys():
                    node[name] = None
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
