"""``config(keys:)`` and ``summaryMetrics(keys:)`` cut the stored JSON text to
the asked top-level keys without parsing the values they keep: compared with
an independent oracle (parse everything, keep the keys, in the asked order)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runs_server.graphql.run_fields import _cut
from runs_server.store import jsonrows

KEYS = st.text(min_size=0, max_size=6)  # "", dots, quotes, unicode
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


def oracle(stored: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: stored[k] for k in dict.fromkeys(keys) if k in stored}


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None, derandomize=True)
@given(stored=st.dictionaries(KEYS, VALUES, max_size=6), data=st.data())
def test_the_cut_is_the_stored_object_restricted_to_the_keys(
    stored: dict[str, Any], data: st.DataObject
) -> None:
    # Keys drawn from those the object holds, and some it does not.
    keys = data.draw(st.lists(st.sampled_from([*stored, "absent", "a.b"]), max_size=5))
    text = jsonrows.dumps(stored)  # as the store writes it (bare NaN tokens)
    cut = jsonrows.loads(_cut(text, keys))
    assert same(cut, oracle(jsonrows.loads(text), keys))


def test_a_text_that_is_no_object_is_kept_whole() -> None:
    assert _cut("[1, 2]", ["a"]) == "[1, 2]"
    assert _cut("null", ["a"]) == "null"


def test_values_keep_their_stored_spelling() -> None:
    text = '{"b": 1.50, "a": {"x": [1, 2e3]}, "c": 3}'
    assert _cut(text, ["a", "b", "zz"]) == '{"a":{"x": [1, 2e3]},"b":1.50}'
    assert json.loads(_cut(text, [])) == {}
