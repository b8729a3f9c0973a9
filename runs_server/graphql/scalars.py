"""The schema's custom scalars.

``JSON`` values pass through untouched so resolvers may return pre-encoded
``orjson.Fragment`` objects; ``DateTime`` values are stored in their served
form already.
"""

from __future__ import annotations

from typing import Any

from ariadne import ScalarType
from graphql import IntValueNode, StringValueNode, ValueNode


def _int64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"Int64 must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"Int64 must be an integer, got {value!r}") from None
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"Int64 must fit in 64 bits, got {number}")
    return number


def _int64_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, (IntValueNode, StringValueNode)):
        return _int64(node.value)
    raise ValueError("Int64 must be an integer literal")


def _json_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"JSONString must be a string holding JSON, got {value!r:.80}")
    return value


def _json_string_literal(node: ValueNode, _variables: Any = None) -> str:
    if isinstance(node, StringValueNode):
        return node.value
    raise ValueError("JSONString must be a string holding JSON")


def _identity(value: Any) -> Any:
    return value


SCALARS = [
    ScalarType(
        "Int64", serializer=int, value_parser=_int64, literal_parser=_int64_literal
    ),
    ScalarType(
        "JSONString",
        serializer=_identity,
        value_parser=_json_string,
        literal_parser=_json_string_literal,
    ),
    ScalarType("JSON", serializer=_identity, value_parser=_identity),
    ScalarType("DateTime", serializer=_identity, value_parser=_identity),
]
