"""The plot: the figure object first (lines, labels, legend), then the PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from runs_cli.plot import FEW_ALPHA, GRID_POINTS, build_figure, save_figure
from tests.cli.conftest import MIXED

RUNS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "name": ["run-a", "run-b", "run-c"],
        "config.opt": ["adam", "sgd", "adam"],
    }
)
HISTORY = pd.DataFrame(
    {
        "run_id": ["a"] * 4 + ["b"] * 3 + ["c"] * 4,
        "_step": [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3],
        "loss": [4.0, 3.0, 2.0, 1.0, 9.0, np.inf, 7.0, 2.0, 1.0, 0.0, -1.0],
    }
)


def test_one_line_per_run() -> None:
    figure = build_figure(HISTORY, RUNS, key="loss")
    ax = figure.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["run-a", "run-b", "run-c"]
    assert list(lines[0].get_ydata()) == [4.0, 3.0, 2.0, 1.0]
    assert list(lines[1].get_xdata()) == [0.0, 2.0]  # inf is no point
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("_step", "loss")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["run-a", "run-b", "run-c"]
    assert "3 runs" in ax.get_title()


def test_mean_and_spread_per_group(tmp_path: Path) -> None:
    figure = build_figure(HISTORY, RUNS, key="loss", group_by="config.opt", smooth=2)
    ax = figure.axes[0]
    lines = ax.get_lines()  # every run reaches every step: no lighter part
    assert [line.get_label() for line in lines] == ["adam (n=2)", "sgd (n=1)"]
    adam = lines[0]
    assert len(adam.get_xdata()) == GRID_POINTS
    # Smoothed over 2 points: a = 4, 3.5, 2.5, 1.5; c = 2, 1.5, 0.5, -0.5.
    assert adam.get_ydata()[0] == pytest.approx((4.0 + 2.0) / 2)
    assert adam.get_ydata()[-1] == pytest.approx((1.5 - 0.5) / 2)
    assert len(ax.collections) == 4  # one band per group (and its lighter part)
    assert ax.get_legend().get_title().get_text() == "config.opt"
    assert "smoothed over 2 points" in ax.get_title()
    path = tmp_path / "p.png"
    save_figure(figure, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.shape[:2] == (450, 800)


def test_a_group_mean_over_fewer_than_half_its_runs_is_lighter() -> None:
    """Three of four runs end at step 10, one goes on to 100: past step 10
    the mean is of one run, drawn lighter, and the legend says so."""
    ends = {"a": 10, "b": 10, "c": 10, "d": 100}
    history = pd.DataFrame(
        [
            {"run_id": r, "_step": s, "loss": 1.0 + i}
            for i, (r, end) in enumerate(ends.items())
            for s in range(end + 1)
        ]
    )
    runs = pd.DataFrame({"id": list(ends), "name": list(ends), "g": ["x"] * 4})
    ax = build_figure(history, runs, key="loss", group_by="g").axes[0]
    full, few = ax.get_lines()
    assert full.get_label() == "x (n=4)" and few.get_label().startswith("_")
    assert few.get_alpha() == FEW_ALPHA and few.get_color() == full.get_color()
    x = np.asarray(full.get_xdata())
    solid = ~np.isnan(np.asarray(full.get_ydata(), dtype=float))
    light = ~np.isnan(np.asarray(few.get_ydata(), dtype=float))
    assert x[solid].max() <= 10 < x[light].min() + 1  # joined at the boundary
    assert x[light].max() == 100 and not (solid & light)[x > 11].any()
    assert np.asarray(few.get_ydata(), dtype=float)[-1] == pytest.approx(4.0)
    assert "lighter: under half" in ax.get_legend().get_title().get_text()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x (n=4)"]


@pytest.mark.e2e
def test_plot_command_writes_a_png(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "loss.png"
    done = cli("plot", MIXED, "--key", "loss", "--group-by", "opt", "-o", str(out))
    assert done.code == 0, done.err
    assert done.out.strip() == f"wrote {out} (15 points of 3 runs)"
    assert imread(out).shape[:2] == (450, 800)
