"""Entry point of the ``runs-client`` command (click, rich for output).

Each command is a thin shell over a function of its own module (``export``,
``plot``, ``demo``, ``schema_check``) so that ``demo`` runs the very same code.
The server (``runs_server``) is imported only by ``serve`` and ``load``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from runs_cli.errors import EXIT_USAGE, describe
from runs_cli.hints import key_warnings_as_lines
from runs_cli.options import (
    client_options,
    common_options,
    examples,
    open_api,
    order_key,
    parse_filters,
)
from runs_cli.table import OutputFormat

__all__ = ["cli", "main"]

PROG = "runs-client"


def _filter_options(command: Any) -> Any:
    command = click.option(
        "--where",
        "where",
        multiple=True,
        metavar="KEY=VALUE",
        help=examples(
            "Keep runs where KEY equals VALUE (JSON, else text); repeatable. "
            "Bare keys are config keys; summary.KEY and run fields (state, "
            "tags...) work too;",
            "--where",
            "state=finished",
            "optimizer.name=adam",
            "summary.val.acc=0.99",
        ),
    )(command)
    command = click.option(
        "--filter",
        "filter_json",
        metavar="JSON",
        help=examples(
            "A MongoDB-style filter (fields as the server names them: "
            "config.KEY, summary_metrics.KEY, state...),",
            "--filter",
            '{"state": "finished"}',
            '{"summary_metrics.loss": {"$lt": 0.5}}',
        ),
    )(command)
    return command


def _order_option(command: Any) -> Any:
    return click.option(
        "--order",
        default="+created_at",
        show_default=True,
        metavar="[+|-]KEY",
        help=examples(
            "Sort by KEY, ascending (+) or descending (-); keys as in --where,",
            "--order",
            "-summary.loss",
            "+lr",
            "-created_at",
        ),
    )(command)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help="A typed, fast client for the W&B runs API, and a local W&B-compatible "
    "server.\n\nStart with: runs-client demo",
)
@common_options
def cli() -> None:
    pass


@cli.command("runs")
@click.argument("path", metavar="ENTITY/PROJECT")
@_filter_options
@_order_option
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs.")
@click.option(
    "--columns",
    "columns",
    multiple=True,
    metavar="NAMES",
    help=examples(
        "Config/summary columns to show (comma-separated or repeated; default: "
        "a few of each, all for csv/json),",
        "--columns",
        "lr,summary.loss",
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
    help="Lists, dicts and mixed values are JSON text in csv and parquet.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write csv, json or parquet to FILE instead of stdout (parquet needs it).",
)
@client_options
def runs_command(
    path: str,
    filter_json: str | None,
    where: tuple[str, ...],
    order: str,
    limit: int | None,
    columns: tuple[str, ...],
    fmt: OutputFormat,
    output: str | None,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """A table of the runs of a project: id, name, state, created, config
    and summary columns."""
    from runs_cli.commands import show_runs

    with open_api(base_url, api_key, max_retries) as api:
        show_runs(
            api,
            path,
            filters=parse_filters(filter_json, where),
            order=order_key(order),
            limit=limit,
            columns=_split(columns),
            fmt=fmt,
            output=output,
        )


@cli.command("run")
@click.argument("path", metavar="ENTITY/PROJECT/RUN_ID")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@client_options
def run_command(
    path: str,
    fmt: str,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """One run's fields, config and summary."""
    from runs_cli.commands import show_run

    with open_api(base_url, api_key, max_retries) as api:
        show_run(api, path, fmt)


@cli.command("stop")
@click.argument("path", metavar="ENTITY/PROJECT/RUN_ID")
@client_options
def stop_command(
    path: str,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """Ask the process logging a run to stop it (W&B's "Stop run")."""
    with open_api(base_url, api_key, max_retries) as api:
        run = api.run(path)
        run.stop()
    click.echo(
        f"asked {'/'.join(run.path)} to stop; its SDK stops it at its next check"
    )


@cli.command("histories")
@click.argument("path", metavar="ENTITY/PROJECT")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="out.parquet, out.csv, out.jsonl, or a folder/ (one Parquet per page).",
)
@click.option("--keys", multiple=True, help="Only these keys (comma-separated).")
@click.option("--samples", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--x", "x_axis", default="_step", show_default=True)
@click.option("--stream", type=click.Choice(["default", "system"]), default="default")
@click.option(
    "--per-page",
    type=click.IntRange(min=1),
    help="At most N runs per request (default: as many as a row budget allows).",
)
@click.option(
    "--after",
    metavar="TOKEN",
    help="Only the runs after this resume token, or @FILE holding it (an export "
    "that stopped names it).",
)
@click.option(
    "--partition-by-run",
    is_flag=True,
    help="With a folder/: one Parquet file per run in folder/run_id=ID/ (a "
    "hive-partitioned dataset), instead of one per page.",
)
@_filter_options
@_order_option
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs.")
@client_options
def histories_command(
    path: str,
    output: str,
    keys: tuple[str, ...],
    samples: int,
    x_axis: str,
    stream: str,
    per_page: int | None,
    after: str | None,
    partition_by_run: bool,
    filter_json: str | None,
    where: tuple[str, ...],
    order: str,
    limit: int | None,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """Export the sampled histories of a project's runs to one file."""
    from runs_cli.commands import export

    with open_api(base_url, api_key, max_retries) as api:
        export(
            api,
            path,
            output,
            filters=parse_filters(filter_json, where),
            order=order_key(order),
            limit=limit,
            keys=_split(keys),
            samples=samples,
            x_axis=x_axis,
            stream="system" if stream == "system" else "default",
            per_page=per_page,
            after=after,
            partition_by_run=partition_by_run,
        )


@cli.command("plot")
@click.argument("path", metavar="ENTITY/PROJECT")
@click.option(
    "--key", required=True, help=examples("The metric to plot,", "--key", "loss")
)
@click.option("--x", "x_axis", default="_step", show_default=True)
@click.option(
    "--group-by",
    help=examples(
        "A runs column (config keys bare or with config.),",
        "--group-by",
        "config.optimizer.name",
        "optimizer.name",
    ),
)
@click.option(
    "--smooth",
    type=click.IntRange(min=1),
    default=1,
    help="Rolling mean over N points.",
)
@click.option("--samples", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("-o", "--output", required=True, metavar="FILE.png")
@click.option("--title", help="Figure title (default: says what is drawn).")
@_filter_options
@_order_option
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs.")
@client_options
def plot_command(
    path: str,
    key: str,
    x_axis: str,
    group_by: str | None,
    smooth: int,
    samples: int,
    output: str,
    title: str | None,
    filter_json: str | None,
    where: tuple[str, ...],
    order: str,
    limit: int | None,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """Plot a metric: one line per run, or mean and spread per group."""
    from runs_cli.commands import plot

    with open_api(base_url, api_key, max_retries) as api:
        plot(
            api,
            path,
            output,
            key=key,
            x_axis=x_axis,
            group_by=group_by,
            smooth=smooth,
            samples=samples,
            title=title,
            filters=parse_filters(filter_json, where),
            order=order_key(order),
            limit=limit,
        )


@cli.command(
    "serve",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    short_help="Run the local W&B-compatible server (see serve --help).",
)
@click.pass_context
def serve_command(ctx: click.Context) -> None:
    """Run the local W&B-compatible GraphQL server on SQLite.

    Its flags are defined once, with ``python -m runs_server``.
    """
    from runs_server.command import main as serve_main

    sys.exit(serve_main(ctx.args, prog=f"{PROG} serve"))


@cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", required=True, metavar="PATH", help="SQLite file to load into.")
@common_options
def load_command(file: str, db: str) -> None:
    """Load runs from a JSON Lines file into a server store (format: README)."""
    from runs_server.command import load_file

    code = load_file(db, file, prog=f"{PROG} load")
    if code:
        sys.exit(code)


@cli.command("mirror")
@click.argument("path", metavar="ENTITY/PROJECT")
@click.option(
    "--db", required=True, metavar="PATH", help="SQLite file of the copy (made if new)."
)
@click.option(
    "--filter",
    "filter_json",
    metavar="JSON",
    help=examples(
        "Only runs matching a MongoDB-style filter,",
        "--filter",
        '{"state": "finished"}',
    ),
)
@click.option(
    "--prune", is_flag=True, help="Delete runs from the copy that the source lost."
)
@client_options
def mirror_command(
    path: str,
    db: str,
    filter_json: str | None,
    prune: bool,
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
) -> None:
    """Copy a project (runs, full history, system events) into a local store;
    run it again to fetch only what changed. Serve the copy with
    `runs-client serve --db PATH`."""
    from runs_cli.mirror import mirror

    with open_api(base_url, api_key, max_retries) as api:
        mirror(api, path, db, filters=parse_filters(filter_json, ()), prune=prune)


@cli.command("demo")
@click.option(
    "--output",
    "-o",
    default="demo-output",
    show_default=True,
    metavar="FOLDER",
    help="Where the table, the Parquet file and the plot go.",
)
@common_options
def demo_command(output: str) -> None:
    """Start the server with demo data, then list, export and plot its runs."""
    from runs_cli.demo import run_demo

    run_demo(Path(output), main)


@cli.command("schema-check")
@client_options
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check against this SDL file instead of the server's introspection.",
)
def schema_check_command(
    base_url: str | None,
    api_key: str | None,
    max_retries: int | None,
    schema_file: Path | None,
) -> None:
    """Check that every operation the client sends fits the server's schema."""
    from runs_cli.schema_check import check_server

    with open_api(base_url, api_key, max_retries) as api:
        problems = check_server(api, schema_file)
    if problems:
        for problem in problems:
            click.echo(problem)
        raise SystemExit(1)


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        with key_warnings_as_lines():
            cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as mistake:
        mistake.show()
        return mistake.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    except Exception as exc:
        if debug:
            raise
        try:
            message, code = describe(exc)
        except Exception:
            raise exc from None  # a bug, not a user mistake: show the traceback
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"{PROG}: error: {message}", markup=False
        )
        return code
    return 0
