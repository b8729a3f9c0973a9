"""``runs-client plot``: one metric of many runs, per run or per group.

The figure is built first (``build_figure``, testable as an object) and saved
after. Matplotlib runs on the Agg backend: no display needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FEW_ALPHA", "GRID_POINTS", "MAX_LEGEND", "build_figure", "save_figure"]

GRID_POINTS = 200  # the common x grid a group's runs are interpolated onto
MAX_LEGEND = 20  # more lines than this get no legend (it would hide the plot)
FEW_ALPHA = 0.35  # a group mean over fewer than half its runs, drawn lighter


def _smoothed(values: pd.Series, window: int) -> pd.Series:
    if window <= 1:
        return values
    return values.rolling(window, min_periods=1).mean()


def _run_series(
    history: pd.DataFrame, key: str, x: str, smooth: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each run's (x, y), sorted by x, without rows missing either."""
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows = history[["run_id", x, key]].copy()
    for name in (x, key):  # text, media or inf values are not points
        rows[name] = pd.to_numeric(rows[name], errors="coerce")
    rows = rows.replace([np.inf, -np.inf], np.nan).dropna()
    for run_id, part in rows.groupby("run_id", sort=False):
        part = part.sort_values(x)
        y = _smoothed(part[key], smooth)
        series[str(run_id)] = (
            part[x].to_numpy(dtype=float),
            y.to_numpy(dtype=float),
        )
    return series


def build_figure(
    history: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    key: str,
    x: str = "_step",
    group_by: str | None = None,
    smooth: int = 1,
    title: str | None = None,
) -> Figure:
    """The figure: one line per run, or with ``group_by`` (a column of
    ``runs``) the mean of each group with a band of one standard deviation.

    ``history`` has ``run_id``, ``x`` and ``key`` columns; ``runs`` is a runs
    table (``runs_frame``) with ``id`` and ``name``. Where fewer than half of
    a group's runs reach an x value, its mean and band are drawn lighter (the
    legend says so): the mean of the few runs left can jump.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    thinned = False  # some group mean is drawn lighter: the legend says why
    ax = figure.add_subplot()
    series = _run_series(history, key, x, smooth)
    names = dict(zip(runs["id"], runs["name"], strict=True))
    if group_by is None:
        for run_id, (xs, ys) in series.items():
            ax.plot(xs, ys, linewidth=1, label=names.get(run_id) or run_id)
        what = f"{len(series)} runs"
    else:
        groups: dict[str, list[str]] = {}
        for run_id, value in zip(runs["id"], runs[group_by], strict=True):
            if run_id in series:
                groups.setdefault(_label(value), []).append(run_id)
        for label, members in sorted(groups.items()):
            grid, mean, std, counts = _mean_and_spread([series[m] for m in members])
            # Where fewer than half the group's runs reach, the mean is of a
            # few runs: drawn lighter, so a jump there is not read as training.
            few = counts * 2 < len(members)
            thinned |= bool(few.any())
            (line,) = ax.plot(
                grid,
                np.where(few, np.nan, mean),
                linewidth=1.5,
                label=f"{label} (n={len(members)})",
            )
            color = line.get_color()
            if few.any():
                ax.plot(
                    grid,
                    np.where(few | np.roll(few, -1), mean, np.nan),  # joined
                    linewidth=1,
                    alpha=FEW_ALPHA,
                    color=color,
                    label=f"_{label} (fewer than half)",
                )
            for where, alpha in ((~few, 0.2), (few, 0.2 * FEW_ALPHA)):
                ax.fill_between(
                    grid, mean - std, mean + std, where=where, alpha=alpha,
                    color=color, linewidth=0,
                )  # fmt: skip
        what = f"mean ± 1 sd of {len(series)} runs by {group_by}"
    ax.set_xlabel(x)
    ax.set_ylabel(key)
    smooth_note = f", smoothed over {smooth} points" if smooth > 1 else ""
    ax.set_title(title or f"{key} ({what}{smooth_note})")
    shown = [line for line in ax.get_lines() if str(line.get_label())[:1] != "_"]
    if 0 < len(shown) <= MAX_LEGEND:
        note = "\n(lighter: under half\nof its runs remain)" if thinned else ""
        legend_title = f"{group_by}{note}" if group_by else None
        ax.legend(fontsize="small", title=legend_title, title_fontsize="small")
    ax.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(none)"
    return str(value)


def _mean_and_spread(
    members: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs sampled at different x values, interpolated onto one grid; each
    point's mean and standard deviation over the runs that reach it, and
    how many runs that is."""
    low = min(xs[0] for xs, _ in members)
    high = max(xs[-1] for xs, _ in members)
    grid = np.linspace(low, high, GRID_POINTS)
    stacked = np.full((len(members), GRID_POINTS), np.nan)
    for i, (xs, ys) in enumerate(members):
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        stacked[i, inside] = np.interp(grid[inside], xs, ys)
    counts = np.sum(~np.isnan(stacked), axis=0)
    keep = counts > 0
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(stacked[:, keep], axis=0)
        std = np.nanstd(stacked[:, keep], axis=0)
    return grid[keep], mean, std, counts[keep]


def save_figure(figure: Figure, path: str) -> None:
    figure.savefig(path)
