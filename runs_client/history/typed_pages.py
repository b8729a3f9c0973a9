"""``sampledHistory`` pages decoded straight into small row objects.

A page of sampled history is most of its body: one JSON object per row, of
the keys the query asked for. Parsed into dicts (orjson) each row costs a
dict; ``msgspec`` decodes each into a slot object of a class made for those
keys instead (no hash table, not tracked by the garbage collector), about
twice as fast, and the frame builder reads the columns from its attributes.

Values are decoded as JSON gives them, as orjson does, with one difference
made up for here: integers beyond 64 bits stay exact in msgspec and become
floats in orjson; ``orjson_numbers`` applies orjson's rule where they occur.
A body this decoder does not fit (GraphQL errors, a row that is not an
object, raw control characters, a number out of range...) gives None, and
the caller parses it the usual way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

__all__ = ["RowDecoder", "orjson_numbers", "row_decoder"]

_U64_END = 2**64
_I64_MIN = -(2**63)


class _PageInfo(msgspec.Struct):
    endCursor: Any = None
    hasNextPage: Any = None


def _envelope(row: Any) -> Any:
    """The response's classes for rows of class ``row``."""
    history: Any = list[list[row]] | None
    node: Any = msgspec.defstruct(
        "SampledNode", [("name", Any, None), ("sampledHistory", history, None)]
    )
    edge: Any = msgspec.defstruct("SampledEdge", [("node", node | None, None)])
    edges: Any = list[edge | None] | None
    runs: Any = msgspec.defstruct(
        "SampledRuns",
        [("edges", edges, None), ("pageInfo", _PageInfo | None, None)],
    )
    project: Any = msgspec.defstruct("SampledProject", [("runs", runs | None, None)])
    data: Any = msgspec.defstruct("SampledData", [("project", project | None, None)])
    return msgspec.defstruct(
        "SampledResponse", [("data", data | None, None), ("errors", Any, None)]
    )


@dataclass(frozen=True)
class RowDecoder:
    """Decodes ``RunsSampledHistoryPage`` bodies whose rows hold ``keys``.

    ``fields`` maps each key to the attribute of the row objects holding it
    (a row without the key holds None there, as ``dict.get`` gives).
    """

    keys: tuple[str, ...]
    fields: dict[str, str]
    row_type: type
    _decoder: Any

    def __call__(self, body: bytes) -> dict[str, Any] | None:
        """The body as ``{"data": ...}`` (dicts down to each node, rows as
        objects), or None when the usual parser must read it."""
        try:
            response = self._decoder.decode(body)
        except (msgspec.DecodeError, RecursionError):
            return None
        if response.errors is not None or response.data is None:
            return None
        project = response.data.project
        if project is None:
            return {"data": {"project": None}}
        runs = project.runs
        if runs is None:
            return {"data": {"project": {"runs": None}}}
        edges = [
            {"node": {"name": e.node.name, "sampledHistory": e.node.sampledHistory}}
            for e in runs.edges or ()
            if e is not None and e.node is not None
        ]
        info = runs.pageInfo
        page_info = None
        if info is not None:
            page_info = {"endCursor": info.endCursor, "hasNextPage": info.hasNextPage}
        return {"data": {"project": {"runs": {"edges": edges, "pageInfo": page_info}}}}

    def as_dict(self, row: Any) -> dict[str, Any]:
        """A row object as a dict of the query's keys (None where it had none)."""
        return {key: getattr(row, attr) for key, attr in self.fields.items()}


@lru_cache(maxsize=32)
def row_decoder(keys: tuple[str, ...]) -> RowDecoder | None:
    """The decoder of pages whose rows hold ``keys`` (one class per key set);
    None for keys msgspec cannot name (quotes, backslashes, control
    characters), whose pages are parsed the usual way."""
    fields = {key: f"k{i}" for i, key in enumerate(keys)}
    try:
        row = msgspec.defstruct(
            "HistoryRow",
            [(attr, Any, None) for attr in fields.values()],
            rename={attr: key for key, attr in fields.items()},
            gc=False,  # JSON values hold no reference cycles
        )
    except (ValueError, TypeError):
        return None
    decoder = msgspec.json.Decoder(_envelope(row))
    return RowDecoder(keys, fields, row, decoder)


def orjson_numbers(value: Any) -> Any:
    """``value`` with integers beyond 64 bits as floats, as orjson reads them."""
    kind = value.__class__
    if kind is int:
        return value if _I64_MIN <= value < _U64_END else float(value)
    if kind is list:
        return [orjson_numbers(v) for v in value]
    if kind is dict:
        return {k: orjson_numbers(v) for k, v in value.items()}
    return value
