"""Byte counts for people, as the mirror's summary and the CLI's export print them."""

from __future__ import annotations

import pytest

from runs_mirror.summary import human_size


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (1024 * 1024 - 1, "1024.0 KB"),
        (1024 * 1024, "1.0 MB"),
        (5 * 1024**3, "5.0 GB"),
        (2 * 1024**4, "2048.0 GB"),  # GB is the largest unit
    ],
)
def test_human_size(count: int, text: str) -> None:
    assert human_size(count) == text
