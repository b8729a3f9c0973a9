"""Parameterised SQL fragments and the boolean combinators the compilers share.

Every boolean fragment built here is two-valued (0 or 1, never NULL), so
``NOT`` keeps Mongo's meaning for ``$ne``/``$nin``/``$nor`` under SQL's
three-valued logic. Values and JSON paths always travel as parameters; only
fixed identifiers and literals chosen by this package appear in the SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["FALSE", "TRUE", "Frag", "and_", "not_", "or_"]


class Frag(NamedTuple):
    """A piece of SQL and the parameters its ``?`` placeholders take, in order.

    ``chain`` is "AND" or "OR" when ``sql`` is a parenthesised flat chain of that
    operator, so that nested chains of the same operator can be flattened.
    """

    sql: str
    params: tuple[object, ...] = ()
    chain: str = ""


TRUE = Frag("1")
FALSE = Frag("0")


def _combine(op: str, frags: Iterable[Frag], unit: Frag, zero: Frag) -> Frag:
    kept: list[Frag] = []
    for frag in frags:
        if frag.sql == zero.sql:
            return zero
        if frag.sql != unit.sql:
            kept.append(frag)
    if not kept:
        return unit
    if len(kept) == 1:
        return kept[0]
    # Flattening nested chains of the same operator keeps nesting (and so
    # SQLite's parser stack, about 100 deep) shallow.
    terms = [f.sql[1:-1] if f.chain == op else f.sql for f in kept]
    params = tuple(p for f in kept for p in f.params)
    return Frag("(" + f" {op} ".join(terms) + ")", params, op)


def and_(frags: Iterable[Frag]) -> Frag:
    """Conjunction with constant folding; the empty conjunction is TRUE."""
    return _combine("AND", frags, TRUE, FALSE)


def or_(frags: Iterable[Frag]) -> Frag:
    """Disjunction with constant folding; the empty disjunction is FALSE."""
    return _combine("OR", frags, FALSE, TRUE)


def not_(frag: Frag) -> Frag:
    """Negation; correct because every fragment is two-valued."""
    if frag.sql == TRUE.sql:
        return FALSE
    if frag.sql == FALSE.sql:
        return TRUE
    inner = frag.sql if frag.chain else f"({frag.sql})"
    return Frag(f"NOT {inner}", frag.params)
