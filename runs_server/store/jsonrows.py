"""JSON helpers for W&B rows, which may hold bare ``NaN``/``Infinity`` tokens.

orjson is the fast path but rejects those tokens on input and writes ``null``
for them on output, so every helper falls back to the stdlib ``json`` module
(C-accelerated, NaN-aware) exactly when non-finite numbers are involved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
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
    """One value as compact JSON text: orjson's, or ``dumps`` where orjson
    cannot write it (non-finite floats, which it turns into null; integers
    beyond 64 bits)."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return dumps(value)
    if b"null" in text and value is not None:
        return dumps(value)  # maybe a NaN that orjson wrote as null
    return text.decode()


def value_records(
    run: int, step: int, row: Mapping[str, Any]
) -> list[tuple[int, str, int, str, str | None]]:
    """``history_values`` rows of one history row: each value's JSON text and,
    for keys other than ``_step``, the row ``{"_step": ..., key: ...}``.

    ``sampledHistory`` builds its cut rows from these texts in SQL (and reads
    the pair as is for the common ``[_step, key]`` spec), so a sampled page
    neither decodes nor re-encodes whole rows.
    """
    texts = {key: value_text(v) for key, v in row.items()}
    head = '{"_step":' + texts.get("_step", str(step)) + ","
    return [
        (run, key, step, text,
         None if key == "_step" else f"{head}{orjson.dumps(key).decode()}:{text}}}")
        for key, text in texts.items()
    ]  # fmt: skip


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


def query_copy(value: Any) -> Any:
    """Replace non-finite floats by the strings SQLite's JSON1 can read."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    if isinstance(value, Mapping):
        return {str(k): query_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [query_copy(v) for v in value]
    return value


def dumps_query(value: Any) -> str:
    """Encode the query copy (``*_q`` columns) of a JSON value."""
    return orjson.dumps(query_copy(value)).decode()


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
