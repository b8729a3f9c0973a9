"""JSON parsing that accepts W&B's bare ``NaN`` / ``Infinity`` tokens.

W&B writes non-finite floats as bare tokens, which strict parsers (orjson)
reject. We try orjson first because it is fast and almost every line is strict
JSON, and fall back to the standard library, which accepts those tokens.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps_compact", "loads", "loads_object"]


def loads(text: str | bytes) -> Any:
    """Parse one JSON document, accepting ``NaN``, ``Infinity`` and ``-Infinity``,
    and raw control characters inside strings (W&B has stored such summaries;
    the SDK parses them with ``strict=False``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text, strict=False)


def loads_object(text: str | None) -> dict[str, Any]:
    """Parse a JSONString field expected to hold an object; null or empty gives ``{}``.

    A value that is not an object (the server should never send one) also
    gives ``{}`` so that typed attributes keep their declared type.
    """
    if not text:
        return {}
    value = loads(text)
    return value if isinstance(value, dict) else {}


def dumps_compact(value: Any) -> str:
    """Serialise strict JSON (no NaN) for variables such as filters and specs."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))
