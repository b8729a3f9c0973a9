"""Runs as one table: run fields, then config and summary flattened to columns.

``runs_frame(api.runs("team/project"))`` gives one row per run, the DataFrame
notebooks want for comparing runs. Nested config and summary dicts become
dotted columns (``config.optimizer.name``); W&B objects that are values, not
namespaces (media, histograms: dicts with a ``_type`` key), stay whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from ._exceptions import InvalidArgumentError
from .history.frames import Columns, import_polars
from .run import RunBase
from .run_columns import (
    RUN_COLUMNS,
    RUN_FIELD_VALUES,
    check_columns,
    column_rows,
    hint_missing,
    selecting,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RUN_COLUMNS", "check_frame_format", "flatten", "run_row", "runs_frame"]

_DATETIME_COLUMNS = ("created_at",)


def flatten(prefix: str, values: dict[str, Any], into: dict[str, Any]) -> None:
    """Nested dicts to dotted keys under ``prefix``; ``_type`` dicts stay whole."""
    for key, value in values.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict) and value and "_type" not in value:
            flatten(name, value, into)
        else:
            into[name] = value


def run_row(run: RunBase[Any, Any]) -> dict[str, Any]:
    """One run as a flat dict: ``RUN_COLUMNS``, ``config.*``, ``summary.*``."""
    row = {name: value(run) for name, value in RUN_FIELD_VALUES.items()}
    flatten("config", run.config, row)
    summary = {k: v for k, v in run.summary.items() if k != "_wandb"}
    flatten("summary", summary, row)
    return row


@overload
def runs_frame(
    runs: Iterable[RunBase[Any, Any]],
    format: Literal["pandas"] = "pandas",
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame: ...


@overload
def runs_frame(
    runs: Iterable[RunBase[Any, Any]],
    format: Literal["polars"],
    *,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame: ...


def runs_frame(
    runs: Iterable[RunBase[Any, Any]],
    format: Literal["pandas", "polars"] = "pandas",
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """The runs (a ``Runs`` or any iterable of ``Run``) as one DataFrame.

    Columns: ``RUN_COLUMNS`` (``created_at`` as UTC datetimes), then every
    ``config.*`` and ``summary.*`` key any run has, flattened with dots; a
    key some runs lack is null there. Numeric, boolean and text columns keep
    their types. Other columns (``tags``, lists, media, mixed types) are
    JSON text in pandas and polars alike (pandas lists them in
    ``frame.attrs["json_columns"]``), so the frame writes to Parquet and CSV
    as it is (``runs-client runs --format csv|parquet`` writes the same).

    ``columns`` names the only columns wanted, in their order: run fields
    (``RUN_COLUMNS``), ``config.KEY`` and ``summary.KEY`` (dotted for nested
    keys, as the full frame names them). Given an ``api.runs(...)`` nothing
    was read from yet, only those keys are asked of the server (each run's
    config and summary cut to them server-side, pages up to the server's
    page cap). A key no run has is a column of nulls, and a ``KeyWarning``
    names the closest keys the project has.

    Raises:
        InvalidArgumentError: an unknown ``format``, polars not installed for
            ``format="polars"``, or a malformed column name, before any
            request.
    """
    check_frame_format(format)
    if columns is not None:
        wanted = check_columns(columns)
        source = selecting(runs, wanted)
        rows = column_rows(source, wanted)
        hint_missing(source, wanted, rows)
        return _frame(rows, format, wanted)
    return _frame([run_row(run) for run in runs], format, None)


def _frame(
    rows: list[dict[str, Any]],
    format: Literal["pandas", "polars"],
    wanted: list[str] | None,
) -> pd.DataFrame | pl.DataFrame:
    """The frame of ``rows``: every column they hold in ``_column_order``,
    or exactly ``wanted`` (a column no row holds is all null)."""
    dates = [n for n in _DATETIME_COLUMNS if wanted is None or n in wanted]
    names = RUN_COLUMNS if wanted is None else wanted
    columns = Columns(with_run_id=False)
    # Datetimes are typed here; the columns' rule would make them JSON text.
    columns.add_run([_without(row, _DATETIME_COLUMNS) for row in rows])
    if format == "pandas":
        frame = columns.to_pandas() if rows else pd.DataFrame(columns=names)
        for name in dates:
            frame[name] = pd.to_datetime([r[name] for r in rows], utc=True)
        if wanted is not None:
            chosen_frame: pd.DataFrame = frame.reindex(columns=wanted)
            return chosen_frame
        result: pd.DataFrame = frame[_column_order(list(frame.columns))]
        return result
    pl_mod = import_polars()
    if not rows:
        empty: pl.DataFrame = pl_mod.DataFrame({name: [] for name in names})
        return empty
    polars_frame: pl.DataFrame = columns.to_polars().with_columns(
        [
            pl_mod.Series(
                name, [r[name] for r in rows], dtype=pl_mod.Datetime("us", "UTC")
            )
            for name in dates
        ]
    )
    if wanted is not None:
        absent = [n for n in wanted if n not in polars_frame.columns]
        polars_frame = polars_frame.with_columns(
            [pl_mod.lit(None).alias(n) for n in absent]
        )
        chosen: pl.DataFrame = polars_frame.select(wanted)
        return chosen
    ordered: pl.DataFrame = polars_frame.select(_column_order(polars_frame.columns))
    return ordered


def check_frame_format(format: object) -> None:
    """Fail before any request on an unknown format or polars missing."""
    if format not in ("pandas", "polars"):
        raise InvalidArgumentError(
            f"format must be 'pandas' or 'polars'; got {format!r}."
        )
    if format == "polars":
        import_polars()


def _without(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in names}


def _column_order(names: list[str]) -> list[str]:
    """Run fields, then config, then summary columns, each in first-seen order
    (a key only later runs have would otherwise land after the summaries)."""

    def group(name: str) -> tuple[int, int]:
        if name in RUN_COLUMNS:
            return 0, RUN_COLUMNS.index(name)  # as RUN_COLUMNS lists them
        return (2 if name.startswith("summary.") else 1), 0

    return sorted(names, key=group)  # stable: first-seen order within a group
