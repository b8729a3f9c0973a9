"""Printing a runs table as a rich table, CSV or JSON; writing it to a file."""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console
from rich.table import Table

__all__ = [
    "OutputFormat",
    "cell",
    "json_text_columns",
    "make_console",
    "print_frame",
    "write_frame",
]

OutputFormat = Literal["table", "csv", "json", "parquet"]


def cell(value: Any) -> str:
    """A value as a short table cell; missing values are blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict) and "_type" in value:
        return f"<{value['_type']}>"
    return str(value)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column of Python objects that is not all text or
    all booleans (tags, lists, media, mixed types) as JSON text, the rule
    polars frames follow: CSV gets ``["a","b"]``, not a Python repr, and
    Parquet a string column rather than a type error on mixed values."""
    out: pd.DataFrame = frame.copy(deep=False)
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        kinds = {type(v) for v in column.tolist() if v is not None}
        if kinds <= {str} or kinds <= {bool}:
            continue
        out[name] = pd.Series(
            [_json_text(v) for v in column.tolist()], index=frame.index, dtype=object
        )
    return out


def write_frame(frame: pd.DataFrame, fmt: OutputFormat, path: Path) -> None:
    """A runs table to a file: CSV, JSON (records) or Parquet."""
    data = json_text_columns(frame)
    if fmt == "parquet":
        data.to_parquet(path, index=False)
    elif fmt == "csv":
        data.to_csv(path, index=False)
    else:
        path.write_text(frame.to_json(orient="records", date_format="iso") + "\n")


def make_console(*, stderr: bool = False) -> Console:
    """A console for tables; a pipe or file gets 200 columns, not 80, so that
    tables are not squeezed into ellipses."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


def print_frame(
    frame: pd.DataFrame,
    fmt: OutputFormat,
    *,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    if fmt == "csv":
        json_text_columns(frame).to_csv(sys.stdout, index=False)
        return
    if fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
        return
    console = console or make_console()
    table = Table(title=title, title_justify="left")
    for name in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[name].dtype)
        table.add_column(str(name), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    console.print(table)
