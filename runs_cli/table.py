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
    "make_console",
    "print_frame",
    "python_values",
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


def python_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its JSON-text columns (``frame.attrs["json_columns"]``:
    tags, lists, media, mixed types) decoded back to values, for a table
    cell or a JSON document; CSV and Parquet take the frame as it is."""
    names = [n for n in frame.attrs.get("json_columns", ()) if n in frame.columns]
    if not names:
        return frame
    out: pd.DataFrame = frame.copy(deep=False)
    for name in names:
        values = [None if v is None else json.loads(v) for v in frame[name].tolist()]
        out[name] = pd.Series(values, index=frame.index, dtype=object)
    return out


def _json_records(frame: pd.DataFrame) -> str:
    return python_values(frame).to_json(orient="records", date_format="iso")


def write_frame(frame: pd.DataFrame, fmt: OutputFormat, path: Path) -> None:
    """A runs table to a file: CSV, JSON (records) or Parquet. Lists, dicts
    and mixed values are already JSON text in the frame."""
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        path.write_text(_json_records(frame) + "\n")


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
        frame.to_csv(sys.stdout, index=False)
        return
    if fmt == "json":
        sys.stdout.write(_json_records(frame) + "\n")
        return
    frame = python_values(frame)
    console = console or make_console()
    table = Table(title=title, title_justify="left")
    for name in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[name].dtype)
        table.add_column(str(name), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    console.print(table)
