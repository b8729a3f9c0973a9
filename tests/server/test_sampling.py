"""Unit tests of the downsampling rule."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from runs_server.history.sampling import sample, sample_indices


@given(st.integers(0, 5000), st.integers(1, 6000))
def test_sample_indices_properties(count: int, samples: int) -> None:
    kept = list(sample_indices(count, samples))
    assert len(kept) == min(count, samples)
    assert kept == sorted(set(kept))
    if count:
        assert kept[-1] == count - 1  # the last row is always kept
        if samples > 1:
            assert kept[0] == 0  # and the first, unless one sample is asked
    assert list(sample_indices(count, samples)) == kept  # deterministic


@given(st.integers(2, 3000), st.integers(2, 3000))
def test_sample_is_evenly_spread(count: int, samples: int) -> None:
    kept = list(sample_indices(count, samples))
    if samples < count:
        gaps = [b - a for a, b in itertools.pairwise(kept)]
        assert max(gaps) - min(gaps) <= 1


def test_sample_edge_cases() -> None:
    assert sample([1, 2, 3], None) == [1, 2, 3]
    assert sample([1, 2, 3], 1) == [3]
    assert sample([1, 2, 3], 3) == [1, 2, 3]
    assert sample([], 5) == []
    assert sample(list(range(10)), 4) == [0, 3, 6, 9]
