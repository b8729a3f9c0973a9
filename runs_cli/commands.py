"""What the client commands do, as functions over an ``Api`` (``demo`` reuses them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from runs_cli.errors import EXIT_ERROR, CliError
from runs_cli.export import ExportResult, Stream, check_keys_logged, export_histories
from runs_cli.options import named_columns_frame, resolve_column
from runs_cli.table import OutputFormat, cell, make_console, print_frame, write_frame
from runs_client import Api, Runs, runs_frame
from runs_client.run_table import RUN_COLUMNS, run_row
from runs_mirror.summary import human_size

__all__ = ["export", "plot", "select_runs", "show_run", "show_runs"]

# Shown by default in a table: the run, then a few config and summary values.
BASE_COLUMNS = ("id", "name", "state", "created_at")
DEFAULT_CONFIG_COLUMNS = 3
DEFAULT_SUMMARY_COLUMNS = 3


def select_runs(
    api: Api,
    path: str,
    *,
    filters: dict[str, Any] | None,
    order: str,
    limit: int | None,
) -> Runs:
    """The runs to work on: all of ``api.runs(...)``, or only its first ``limit``.

    A limit becomes a filter on the first ``limit`` run ids, so the result is
    still a ``Runs`` whose histories come a page of runs per request.
    """
    per_page = min(limit, 500) if limit else 100
    if limit is None:
        return api.runs(path, filters=filters, order=order, per_page=per_page)
    # Lazy: the first ``limit`` run ids, without their config or summary.
    listed = api.runs(path, filters=filters, order=order, per_page=per_page, lazy=True)
    names = {"name": {"$in": [run.id for run in listed[:limit]]}}
    narrowed = {"$and": [filters, names]} if filters else names
    return api.runs(path, filters=narrowed, order=order, per_page=per_page)


def _default_columns(frame: pd.DataFrame) -> list[str]:
    def scalar(name: str) -> bool:
        if name in frame.attrs.get("json_columns", ()):
            return False  # lists, dicts, mixed values (as JSON text)
        values = frame[name].dropna()
        return bool(len(values)) and all(
            isinstance(v, (int, float, str, bool)) for v in values
        )

    config = [c for c in frame.columns if c.startswith("config.") and scalar(c)]
    summary = [
        c
        for c in frame.columns
        if c.startswith("summary.")
        and not c.startswith("summary._")
        and pd.api.types.is_numeric_dtype(frame[c].dtype)
    ]
    return [
        *BASE_COLUMNS,
        *config[:DEFAULT_CONFIG_COLUMNS],
        *summary[:DEFAULT_SUMMARY_COLUMNS],
    ]


def show_runs(
    api: Api,
    path: str,
    *,
    filters: dict[str, Any] | None = None,
    order: str = "+created_at",
    limit: int | None = None,
    columns: list[str] | None = None,
    fmt: OutputFormat = "table",
    output: str | None = None,
    console: Console | None = None,
) -> pd.DataFrame:
    """Print the runs table (or write it to ``output``); returns the frame it
    was cut from (every column, or with ``columns`` the columns asked)."""
    if fmt == "parquet" and output is None:
        raise CliError("--format parquet writes a file: add -o runs.parquet.")
    if fmt == "table" and output is not None:
        raise CliError("-o writes csv, json or parquet: add --format csv (or json).")
    runs = select_runs(api, path, filters=filters, order=order, limit=limit)
    if columns:
        # Only the columns asked are fetched (config and summary cut to them).
        frame = named_columns_frame(runs, columns, BASE_COLUMNS)
        shown = frame
    elif fmt == "table":
        frame = runs_frame(runs)
        shown = frame[_default_columns(frame)]
    else:
        frame = shown = runs_frame(runs)
    if output is not None:
        target = Path(output)
        try:
            write_frame(shown, fmt, target)
        except OSError as exc:
            raise CliError(
                f"cannot write {target}: {exc.strerror or exc}; choose another "
                "path with -o.",
                exit_code=EXIT_ERROR,
            ) from exc
        size = human_size(target.stat().st_size)
        (console or make_console()).print(
            f"wrote {len(shown)} runs to {target} ({size})", markup=False
        )
        return frame
    title = f"{path}: {len(frame)} runs" + (f" (first {limit})" if limit else "")
    print_frame(shown, fmt, title=title, console=console)
    return frame


def show_run(api: Api, path: str, fmt: str, console: Console | None = None) -> None:
    run = api.run(path)
    row = run_row(run)
    if fmt == "json":
        fields = {k: row[k] for k in RUN_COLUMNS}
        fields["created_at"] = run.created_at.isoformat()
        document = {**fields, "url": run.url, "config": run.config}
        document["summary"] = run.summary
        print(json.dumps(document, default=str))
        return
    console = console or make_console()
    head = Table(title=f"run {'/'.join(run.path)}", show_header=False)
    head.add_column("field", style="bold")
    head.add_column("value")
    for name in RUN_COLUMNS:
        head.add_row(name, cell(row[name]))
    head.add_row("url", run.url)
    console.print(head)
    for prefix in ("config", "summary"):
        table = Table(title=prefix, show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        for name, value in row.items():
            if name.startswith(prefix + "."):
                table.add_row(name.removeprefix(prefix + "."), cell(value))
        console.print(table)


def export_progress(console: Console) -> Progress:
    """Runs done of the total (the server's run count, asked first), rows
    written, time left and time spent; only on a terminal."""
    return Progress(
        TextColumn("histories"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs, {task.fields[rows]:,} rows"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no bar in logs and pipes
    )


def export(
    api: Api,
    path: str,
    output: str,
    *,
    filters: dict[str, Any] | None = None,
    order: str = "+created_at",
    limit: int | None = None,
    keys: list[str] | None = None,
    samples: int = 500,
    x_axis: str = "_step",
    stream: Stream = "default",
    per_page: int | None = None,
    after: str | None = None,
    partition_by_run: bool = False,
    console: Console | None = None,
) -> ExportResult:
    """Export histories with a progress bar (on stderr); print the summary line."""
    runs = select_runs(api, path, filters=filters, order=order, limit=limit)
    err = Console(stderr=True)
    progress = export_progress(err)
    task = progress.add_task("histories", total=None, rows=0)

    def advance(runs_done: int, rows: int) -> None:
        done = progress.tasks[0]
        progress.update(task, advance=runs_done, rows=int(done.fields["rows"]) + rows)

    with progress:
        result = export_histories(
            runs,
            output,
            samples=samples,
            keys=keys,
            x_axis=x_axis,
            stream=stream,
            page_runs=per_page,
            after=after,
            partition_by_run=partition_by_run,
            on_start=lambda total: progress.update(task, total=total),
            on_page=advance,
        )
    files = f" ({result.files} files)" if result.files > 1 else ""
    (console or make_console()).print(
        f"wrote {result.runs} runs, {result.rows} rows to {result.path}{files} "
        f"({human_size(result.bytes)})",
        markup=False,
    )
    return result


def plot(
    api: Api,
    path: str,
    output: str,
    *,
    key: str,
    x_axis: str = "_step",
    group_by: str | None = None,
    smooth: int = 1,
    samples: int = 500,
    title: str | None = None,
    filters: dict[str, Any] | None = None,
    order: str = "+created_at",
    limit: int | None = None,
    console: Console | None = None,
) -> None:
    from runs_cli.plot import build_figure, save_figure

    if not output.lower().endswith((".png", ".svg", ".pdf", ".jpg", ".jpeg")):
        raise CliError(f"-o {output}: end the name with .png (or .svg, .pdf, .jpg).")
    runs = select_runs(api, path, filters=filters, order=order, limit=limit)
    run_list = runs[:]
    if not run_list:
        raise CliError(f"no runs in {path} match; loosen --filter/--where.")
    check_keys_logged(run_list, [key], x_axis)
    table = runs_frame(runs)
    group_column = None
    if group_by is not None:
        group_column = resolve_column(group_by, list(table.columns), "--group-by")
    frame = runs.histories(samples, [key], x_axis, format="pandas", progress=False)
    history = frame.reindex(columns=["run_id", x_axis, key])
    figure = build_figure(
        history,
        table,
        key=key,
        x=x_axis,
        group_by=group_column,
        smooth=smooth,
        title=title,
    )
    save_figure(figure, output)
    (console or make_console()).print(
        f"wrote {output} ({len(history)} points of {len(run_list)} runs)", markup=False
    )
