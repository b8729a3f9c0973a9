"""JSON helpers for W&B rows, which may hold bare ``NaN``/``Infinity`` tokens.

Three forms of a value: the stored text (bare tokens, as W&B writes them
inside JSON strings), the query copy (``dumps_query``: what SQLite's JSON1
reads in filters and orders) and the wire copy (``wire_copy``: strict JSON).

msgspec (decoding) and orjson (encoding) are the fast paths but reject those
tokens on input and write ``null`` for them on output, so every helper falls
back to the stdlib ``json`` module (C-accelerated, NaN-aware) exactly when
non-finite numbers are involved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

_COMPACT = (",", ":")


_DECODE = msgspec.json.Decoder().decode


def loads(text: str | bytes) -> Any:
    """Decode JSON that may contain bare ``NaN``/``Infinity`` tokens.

    msgspec is the fast path (it keeps integers past 64 bits exact, where
    orjson makes them floats); it rejects the bare tokens, so the stdlib
    reads those texts."""
    try:
        return _DECODE(text)
    except msgspec.DecodeError:
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
    copy = _query_value(value)
    try:
        text = orjson.dumps(copy).decode()
    except TypeError:  # integers past 64 bits, which orjson cannot write
        text = dumps(copy)
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
