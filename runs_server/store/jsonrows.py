"""JSON helpers for W&B rows, which may hold bare ``NaN``/``Infinity`` tokens.

Three forms of a value: the stored text (bare tokens, as W&B writes them
inside JSON strings), the query copy (``dumps_query``: what SQLite's JSON1
reads in filters and orders) and the wire copy (``wire_copy``: strict JSON).

orjson is the fast path but rejects those tokens on input and writes ``null``
for them on output, so every helper falls back to the stdlib ``json`` module
(C-accelerated, NaN-aware) exactly when non-finite numbers are involved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_COMPACT = (",", ":")


def loads(text: str | bytes) -> Any:
    """Decode JSON that may contain bare ``NaN``/``Infinity`` tokens."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> str:
    """Encode compactly, writing non-finite floats as bare tokens like W&B."""
    return json.dumps(value, separators=_COMPACT, ensure_ascii=False, allow_nan=True)


def value_text(value: Any) -> str:
    """One value as compact strict JSON text, the form ``sampledHistory``
    serves: non-finite floats as the strings ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"`` (``wire_copy``); integers beyond 64 bits, which orjson
    cannot write, by ``dumps``."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return dumps(wire_copy(value))
    if b"null" in text and value is not None:
        text = orjson.dumps(wire_copy(value))  # maybe a NaN orjson wrote as null
    return text.decode()


def cut_text(text: str, keys: Sequence[str]) -> str:
    """A stored row (JSON text, NaN tokens allowed) cut to ``keys``, as the
    strict JSON text ``sampledHistory`` serves (``value_text``); a key the row
    lacks is ``null``."""
    row = loads(text)
    if not isinstance(row, dict):
        return "null"
    return value_text({key: row.get(key) for key in keys})


def dumps_keys(keys: list[str]) -> str:
    """The ``history.keys`` column: a compact JSON array (see ``key_probes``)."""
    return orjson.dumps(keys).decode()


AMBIGUOUS_KEY = ","
"""The one key ``key_probes`` cannot decide: in ``["a,","b"]`` the text
``,","`` spans the end of ``"a,"`` and the separator. Test it exactly."""


def key_probes(key: str) -> tuple[str, str]:
    """Substrings that occur in a ``dumps_keys`` array exactly when it holds ``key``
    (for every key but ``AMBIGUOUS_KEY``).

    Inside a JSON string every ``"`` is escaped, so ``["k"`` / ``,"k"`` can only
    match a whole element boundary of the compact array, except when the
    ``"`` that opens the probe closes an element ending in ``,`` or ``[`` and
    the key is ``,`` itself. This lets SQL apply the AND rule with ``instr``
    instead of decoding every row's key list.
    """
    quoted = orjson.dumps(key).decode()
    return "[" + quoted, "," + quoted


NAN_MARKER_KEY = ""
"""The key of the object that stands for NaN in the query copy (``{"": "NaN"}``).

No filter or order path can name an empty key (the listing refuses empty
segments), so the query copy drops empty keys from logged objects and the
marker cannot be confused with anything a run logged, such as the string
``"NaN"``."""


def _query_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return {NAN_MARKER_KEY: "NaN"}
        # Infinities become JSON numbers past the double range (see dumps_query).
        return {NAN_MARKER_KEY: "Infinity" if value > 0 else "-Infinity"}
    if isinstance(value, Mapping):
        return {
            str(k): _query_value(v)
            for k, v in value.items()
            if str(k) != NAN_MARKER_KEY
        }
    if isinstance(value, (list, tuple)):
        return [_query_value(v) for v in value]
    return value


_INFINITIES = (('{"":"Infinity"}', "1e999"), ('{"":"-Infinity"}', "-1e999"))


def dumps_query(value: Any) -> str:
    """Encode the query copy (``*_q`` columns) of a JSON value for SQLite's JSON1.

    +/-Infinity are written ``1e999``/``-1e999``, which SQLite reads as real
    infinities (numbers: they compare and sort as such); NaN, which SQLite
    cannot hold, is the object ``{"": "NaN"}`` (see ``NAN_MARKER_KEY``), so a
    logged string ``"NaN"`` stays a string. A JSON string cannot contain the
    replaced text unescaped, so the replacement touches only the markers.
    """
    text = orjson.dumps(_query_value(value)).decode()
    if '{"":"' in text:
        for marker, number in _INFINITIES:
            text = text.replace(marker, number)
    return text


def wire_copy(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``: strict JSON for JSON-typed response fields, the form W&B's
    own consumers read there."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    if isinstance(value, Mapping):
        return {str(k): wire_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire_copy(v) for v in value]
    return value


def type_name(value: Any) -> str:
    """W&B's historyKeys type label of one logged value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        kind = value.get("_type")
        return kind if isinstance(kind, str) else "map"
    if isinstance(value, (list, tuple)):
        return "list"
    return "unknown"
