"""Step windows jump over gaps (issue 17, item 15): ``scan_history`` needs
O(rows / page_size + log(step range)) requests however far apart the steps
are, returns every row once in step order, and never trusts an answer the
server may have sampled. The server here is a plain model: rows in
``[minStep, maxStep)``; over ``samples`` of them, an evenly spaced sample
keeping the first and last (as W&B and runs_server sample)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from runs_client.history.policy import StepWindows
from runs_client.history.run_rows import scan_steps
from runs_client.transport.flows import iterate

MAX_REQUESTS = 10_000  # bound of the model server: a broken walk fails fast


class WindowServer:
    """Answers ``run_history_window`` from a sorted list of steps."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps
        self.requests = 0

    def run_history_window(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        min_step: int,
        max_step: int,
        samples: int,
    ) -> Any:
        self.requests += 1
        assert self.requests <= MAX_REQUESTS, "the scan does not end"
        inside = [s for s in self.steps if min_step <= s < max_step]
        if len(inside) > samples:
            picks = {
                round(i * (len(inside) - 1) / (samples - 1)) for i in range(samples)
            }
            inside = [inside[i] for i in sorted(picks)]
        lines = [json.dumps({"_step": s, "v": s % 7}) for s in inside]
        return SimpleNamespace(
            project=SimpleNamespace(run=SimpleNamespace(history=lines))
        )


def scan(steps: list[int], page_size: int) -> tuple[list[int], int]:
    server = WindowServer(steps)
    rows = iterate(
        cast(Any, server),
        scan_steps(
            "e",
            "p",
            "r",
            keys=None,
            page_size=page_size,
            min_step=0,
            stop_step=(steps[-1] + 1) if steps else 0,
        ),
    )
    return [row["_step"] for row in rows], server.requests


def bound(rows: int, page_size: int, last_step: int) -> int:
    # Windows aim at the page, at worst half of it, and grow at least 2x over
    # empty stretches; each doubling and each sampled answer costs one request.
    span = max(2, last_step // page_size + 1)
    return 4 * (rows // page_size + 1) + 3 * math.ceil(math.log2(span)) + 4


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    gaps=st.lists(
        st.one_of(st.integers(1, 3), st.integers(1, 10**6), st.integers(1, 10**12)),
        min_size=1,
        max_size=400,
    ),
    page_size=st.integers(2, 60),
)
def test_scan_returns_every_row_within_the_request_bound(
    gaps: list[int], page_size: int
) -> None:
    steps: list[int] = []
    at = 0
    for gap in gaps:
        at += gap
        steps.append(at)
    got, requests = scan(steps, page_size)
    assert got == steps
    assert requests <= bound(len(steps), page_size, steps[-1])


def test_tokens_counted_as_steps_cost_rows_over_budget_requests() -> None:
    # 64,000 rows whose last step is 10^13: fixed windows of 1,000 steps
    # would take 10^10 requests.
    spacing = 10**13 // 64_000
    steps = [i * spacing for i in range(1, 64_001)]
    got, requests = scan(steps, 1000)
    assert got == steps
    assert requests <= bound(64_000, 1000, steps[-1])  # 300 or fewer


def test_a_dense_run_costs_rows_over_page_size() -> None:
    got, requests = scan(list(range(2000)), 300)
    assert got == list(range(2000))
    assert requests == 7  # ceil(2000 / 300), as with fixed windows


def test_a_window_that_may_be_sampled_is_asked_again_in_halves() -> None:
    walk = StepWindows(0, 10_000, width=5000, rows=100, cap=100)
    assert walk.next() == (0, 5000)
    assert walk.maybe_sampled(5000, [100])  # 100 rows of 5,000 steps: sampled?
    assert walk.shrink() and walk.next() == (0, 2500)
    assert not walk.maybe_sampled(2500, [50])
    narrow = StepWindows(0, 10_000, width=100, rows=100, cap=100)
    assert not narrow.maybe_sampled(100, [100])  # 100 steps hold 100 rows at most
