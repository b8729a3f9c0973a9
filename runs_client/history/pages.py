"""A histories() query, a page of runs' rows and the position after it, and
the resume tokens that carry a position between calls."""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from .._exceptions import (
    InvalidArgumentError,
)
from ..transport.jsonio import dumps_compact
from .chunks import Chunk
from .rows import (
    fix_nonfinite_strings,
    normalise_steps,
    order_permutation,
    parse_line_groups,
)
from .run_rows import Stream
from .typed_pages import RowDecoder

__all__ = [
    "HistoryQuery",
    "Join",
    "Page",
    "Position",
    "decode_token",
    "encode_token",
    "fingerprint",
    "merge_on",
    "reordered",
    "run_objects",
]

Join = Literal["and", "outer"]


@dataclass(frozen=True)
class HistoryQuery:
    """What a histories() call asks for, the same for every page."""

    samples: int
    keys: tuple[str, ...] | None  # None: full rows
    x_axis: str
    stream: Stream
    join: Join

    @property
    def specs(self) -> list[str]:
        """``sampledHistory`` specs: one with every key, or one per key."""
        if self.keys is None:
            return []
        if self.join == "and":
            keys = list(dict.fromkeys([self.x_axis, *self.keys]))
            return [dumps_compact({"keys": keys, "samples": self.samples})]
        return [
            dumps_compact({"keys": [self.x_axis, key], "samples": self.samples})
            for key in dict.fromkeys(self.keys)
            if key != self.x_axis
        ] or [dumps_compact({"keys": [self.x_axis], "samples": self.samples})]

    @property
    def row_keys(self) -> list[str] | None:
        """The keys every row holds (the AND rule), when the query fixes them."""
        if self.keys is None or self.join != "and":
            return None
        return list(dict.fromkeys([self.x_axis, *self.keys]))

    @property
    def order_by(self) -> str:
        if self.stream == "system":
            return "_timestamp"
        return self.x_axis if self.join == "outer" and self.keys else "_step"

    @property
    def rows_per_run(self) -> int:
        return self.samples * max(1, len(self.specs))


@dataclass(frozen=True)
class Position:
    """Where a fetch stands: loaded runs still to ask by name, then the cursor."""

    names: tuple[str, ...] = ()
    cursor: str | None = None
    more: bool = False

    @property
    def done(self) -> bool:
        return not self.names and not self.more


@dataclass
class Page:
    """Rows of some runs, each run's rows together, as the server sent them.

    Step order, ``_step`` floats and ``"NaN"`` strings (``nonfinite``) are
    left to the consumer, which fixes them column by column for frames
    (``Columns.add_page``) or row by row for dicts (``Page.records``).
    """

    run_ids: list[str]
    counts: list[int]
    rows: list[dict[str, Any]]
    order_by: str = "_step"
    nonfinite: bool = False
    end_cursor: str | None = None
    has_next: bool = False
    requests: int = 1
    # History lines not parsed yet, one list per run (then ``rows`` is empty
    # and ``counts`` counts lines): parsed by the consumer, a few runs at a
    # time (``batches``), so a page's rows never all exist as dicts at once.
    lines: list[list[str]] | None = None
    operation: str = "RunsHistoryPage"  # named by a ServerError for a bad line
    # Rows decoded as objects of ``typed_pages`` rather than dicts (sampled
    # history for frames): the decoder that made them, which names their fields.
    decoder: RowDecoder | None = None
    # A columnar page (``arrow_pages``): each key's values as one chunk of
    # the page, rows grouped by run in order; then ``rows`` is empty.
    chunks: dict[str, Chunk] | None = None

    @property
    def fields(self) -> dict[str, str] | None:
        """Each key's attribute in the row objects; None for dict rows."""
        return None if self.decoder is None else self.decoder.fields

    def as_dicts(self) -> None:
        """Row objects (if any) turned into dicts."""
        if self.decoder is not None:
            self.rows = list(map(self.decoder.as_dict, self.rows))
            self.decoder = None

    def materialize(self) -> None:
        """Parse ``lines`` (if any) into ``rows``."""
        if self.lines is None:
            return
        groups = parse_line_groups(self.lines, self.operation)
        self.counts = [len(group) for group in groups]
        self.rows = [row for group in groups for row in group]
        self.lines = None

    def batches(self, rows: int) -> Iterator[Page]:
        """This page as parsed pages of whole runs, about ``rows`` rows each;
        each batch's lines are released once it is parsed."""
        lines = self.lines
        if lines is None:
            yield self
            return
        start, size = 0, 0
        for end, group in enumerate(lines, 1):
            size += len(group)
            if size < rows and end < len(lines):
                continue
            batch = Page(self.run_ids[start:end], self.counts[start:end], [],
                         self.order_by, lines=lines[start:end],
                         operation=self.operation)  # fmt: skip
            lines[start:end] = [[] for _ in range(end - start)]
            batch.materialize()
            yield batch
            start, size = end, 0

    @classmethod
    def of(
        cls, per_run: Sequence[tuple[str, list[dict[str, Any]]]], order_by: str
    ) -> Page:
        run_ids = [run_id for run_id, _ in per_run]
        counts = [len(rows) for _, rows in per_run]
        flat = list(itertools.chain.from_iterable(rows for _, rows in per_run))
        return cls(run_ids, counts, flat, order_by)

    def records(self, run_id_key: str) -> list[dict[str, Any]]:
        """The rows as dicts in order, each with its run id under ``run_id_key``."""
        self.materialize()
        self.as_dicts()
        rows = self.rows
        if self.nonfinite:
            fix_nonfinite_strings(rows)
        normalise_steps(rows)
        order = order_permutation(rows, self.counts, self.order_by)
        if order is not None:
            rows = [rows[i] for i in order]
        at = 0
        for run_id, count in zip(self.run_ids, self.counts, strict=True):
            for row in rows[at : at + count]:
                row[run_id_key] = run_id
            at += count
        return rows


def fingerprint(entity: str, project: str, filters: str | None, order: str | None,
                query: HistoryQuery) -> str:  # fmt: skip
    """Ties a resume token to the query it belongs to."""
    parts = [entity, project, filters, order, query.samples, query.keys,
             query.x_axis, query.stream, query.join]  # fmt: skip
    text = orjson.dumps(parts)
    return hashlib.sha256(text).hexdigest()[:16]


def encode_token(print_: str, position: Position) -> str:
    payload = {"v": 1, "q": print_, "n": list(position.names),
               "c": position.cursor, "m": position.more}  # fmt: skip
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: object, print_: str) -> Position:
    """The position a resume token stands for; refuses another query's token."""
    problem = "it is not a resume token from runs_client"
    if isinstance(token, str):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = orjson.loads(raw)
        except (binascii.Error, ValueError):
            payload = None
        if isinstance(payload, dict) and payload.get("v") == 1:
            if payload.get("q") != print_:
                problem = (
                    "it belongs to another histories() query (other runs, "
                    "filters, order, samples, keys, x_axis, stream or join)"
                )
            else:
                names = payload.get("n")
                cursor = payload.get("c")
                if (
                    isinstance(names, list)
                    and all(isinstance(n, str) for n in names)
                    and (cursor is None or isinstance(cursor, str))
                ):
                    return Position(tuple(names), cursor, bool(payload.get("m")))
    raise InvalidArgumentError(
        f"after={token!r:.60} cannot be used: {problem}. Pass the resume_token of "
        "a HistoryBatch or of IncompleteHistoriesError from the same query."
    )


def run_objects(lists: list[Any]) -> list[Any]:
    """A run's rows decoded as objects: the one spec's list (the AND rule)."""
    return (lists[0] if lists else None) or []


def merge_on(
    x_axis: str, lists: Sequence[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Rows of several specs joined on ``x_axis`` (an outer join), first seen first."""
    merged: dict[Any, dict[str, Any]] = {}
    for rows in lists:
        for row in rows:
            x = row.get(x_axis)
            target = merged.get(x)
            if target is None:
                merged[x] = dict(row)
            else:
                target.update(row)
    return list(merged.values())


def reordered(page: Page, run_ids: list[str]) -> Page:
    """``page`` holding the runs ``run_ids`` in that order (rows as dicts)."""
    page.materialize()
    starts: dict[str, tuple[int, int]] = {}
    at = 0
    for run_id, count in zip(page.run_ids, page.counts, strict=True):
        starts[run_id] = (at, count)
        at += count
    rows: list[dict[str, Any]] = []
    for run_id in run_ids:
        begin, count = starts[run_id]
        rows.extend(page.rows[begin : begin + count])
    counts = [starts[r][1] for r in run_ids]
    return replace(page, run_ids=run_ids, counts=counts, rows=rows)
