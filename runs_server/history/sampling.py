"""Deterministic downsampling of history and event rows.

W&B does not document which rows a sample keeps. Ours is evenly spaced, always
keeps the first and last rows (so plots span the whole run), returns every row
when ``samples`` >= the row count, and keeps only the last row for
``samples == 1`` (the latest value is what users want from one sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_SAMPLES = 100_000


def sample_indices(count: int, samples: int | None) -> range | list[int]:
    """Indices of the rows kept out of ``count`` rows, ascending."""
    if samples is None or samples >= count:
        return range(count)
    if samples <= 0:
        return []
    if samples == 1:
        return [count - 1]
    # i is kept when floor(i*(s-1)/(n-1)) first reaches a new value: exactly s
    # indices, evenly spread, 0 and n-1 included, integer arithmetic only.
    # Bucket b starts at ceil(b*span/width); span > width, so starts differ.
    span, width = count - 1, samples - 1
    return [-(-bucket * span // width) for bucket in range(samples)]


def sample(rows: Sequence[T], samples: int | None) -> list[T]:
    """The rows ``sample_indices`` keeps."""
    indices = sample_indices(len(rows), samples)
    if isinstance(indices, range):
        return list(rows)
    return [rows[i] for i in indices]
