"""Options shared by the client commands, and turning them into client calls."""

from __future__ import annotations

import difflib
import json
import shlex
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import pandas as pd

from runs_cli.errors import CliError
from runs_client import (
    Api,
    InvalidArgumentError,
    KeyWarning,
    Runs,
    __version__,
    runs_frame,
)
from runs_client.key_hints import fetch_project_keys
from runs_client.run_table import RUN_COLUMNS

__all__ = [
    "HELP_EXAMPLES",
    "client_options",
    "common_options",
    "examples",
    "field_key",
    "open_api",
    "order_key",
    "parse_filters",
    "resolve_column",
]

F = TypeVar("F", bound=Callable[..., Any])

# Filter fields the server knows by their own name; any other bare key in
# ``--where`` is a config key (``lr`` means ``config.lr``).
_RUN_FIELDS = frozenset(
    {
        "name",
        "displayName",
        "display_name",
        "state",
        "tags",
        "group",
        "jobType",
        "host",
        "username",
        "sweep",
        "createdAt",
        "created_at",
        "heartbeatAt",
        "heartbeat_at",
        "updatedAt",
        "updated_at",
        "duration",
    }
)


# Every example a --help text gives, by option; tests/cli runs each one with
# every command that takes the option, so no example can go stale.
HELP_EXAMPLES: dict[str, tuple[str, ...]] = {}


def examples(text: str, option: str, *values: str) -> str:
    """``text`` and ``e.g. V1, V2`` (shell-quoted), recorded in HELP_EXAMPLES."""
    known = HELP_EXAMPLES.get(option, ())
    HELP_EXAMPLES[option] = tuple(dict.fromkeys((*known, *values)))
    shown = ", ".join(shlex.quote(v) for v in values)
    return f"{text} e.g. {shown}".strip() + "."


def common_options(command: F) -> F:
    """``--version`` and ``--debug`` on every command, not only the group.

    ``--debug`` is read by ``main`` before click parses anything, so a
    failure during parsing is covered too; here it only has to be accepted.
    """
    command = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        help="Show the full traceback on errors.",
    )(command)
    command = click.version_option(
        __version__,
        "-V",
        "--version",
        prog_name="runs-client",
        message="%(prog)s %(version)s",
    )(command)
    return command


def client_options(command: F) -> F:
    """Where the server is and how to authenticate: the same settings as
    ``Api`` (flags first, then WANDB_BASE_URL / WANDB_API_KEY / netrc)."""
    command = click.option(
        "--max-retries",
        type=click.IntRange(min=0),
        default=None,
        help="Retries of transient failures (default: the client's).",
    )(command)
    command = click.option(
        "--api-key",
        default=None,
        metavar="KEY",
        help="API key (default: WANDB_API_KEY, then ~/.netrc).",
    )(command)
    command = click.option(
        "--base-url",
        default=None,
        metavar="URL",
        help="Server URL (default: WANDB_BASE_URL, else https://api.wandb.ai).",
    )(command)
    return common_options(command)


def open_api(base_url: str | None, api_key: str | None, max_retries: int | None) -> Api:
    if max_retries is None:
        return Api(api_key=api_key, base_url=base_url)
    return Api(api_key=api_key, base_url=base_url, max_retries=max_retries)


def _value(text: str) -> Any:
    """JSON first (``0.01``, ``true``, ``"x"``, ``[1,2]``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def field_key(key: str) -> str:
    """A field as the server names it: ``summary.KEY`` is ``summary_metrics.KEY``,
    run fields keep their names, and any other bare key is a config key.
    ``--where`` and ``--order`` share this one rule."""
    if key in _RUN_FIELDS or key.startswith(("config.", "summary_metrics.")):
        return key
    if key.startswith("summary."):
        return "summary_metrics." + key.removeprefix("summary.")
    return "config." + key


def order_key(order: str) -> str:
    """``--order``: ``+``/``-`` (ascending by default) and a key as in ``--where``
    (``+lr`` is ``+config.lr``, ``-summary.loss`` is ``-summary_metrics.loss``)."""
    text = order.strip()
    sign = text[0] if text[:1] in ("+", "-") else "+"
    key = text[1:].strip() if text[:1] in ("+", "-") else text
    if not key:
        raise CliError(
            f"--order {order!r} names no key; e.g. --order -summary.loss or +lr."
        )
    return sign + field_key(key)


def _summary_fields(node: dict[str, Any]) -> dict[str, Any]:
    """``summary.KEY`` fields of a ``--filter`` as the server names them
    (``summary_metrics.KEY``), inside ``$and``/``$or``/``$nor`` too."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            value = [_summary_fields(v) if isinstance(v, dict) else v for v in value]
        elif key.startswith("summary."):
            key = "summary_metrics." + key.removeprefix("summary.")
        out[key] = value
    return out


def parse_filters(
    filter_json: str | None, where: Sequence[str]
) -> dict[str, Any] | None:
    """``--filter`` (a JSON object) and ``--where KEY=VALUE`` (all must hold)."""
    clauses: list[dict[str, Any]] = []
    if filter_json is not None:
        try:
            parsed = json.loads(filter_json)
        except ValueError as exc:
            raise CliError(
                f"--filter is not valid JSON ({exc}); pass an object such as "
                '\'{"state": "finished"}\' (in single quotes for the shell).'
            ) from None
        if not isinstance(parsed, dict):
            raise CliError(
                f'--filter must be a JSON object such as \'{{"state": "finished"}}\''
                f"; got {type(parsed).__name__}."
            )
        clauses.append(_summary_fields(parsed))
    for item in where:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise CliError(
                f"--where {item!r} is not KEY=VALUE; e.g. --where state=finished "
                "or --where lr=0.01 (bare keys are config keys)."
            )
        clauses.append({field_key(key.strip()): _value(text)})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _candidates(name: str) -> list[str]:
    """The columns ``--columns NAME`` may mean: itself, or a config or summary
    key without its prefix (config first)."""
    if name in RUN_COLUMNS or name.startswith(("config.", "summary.")):
        return [name]
    return [f"config.{name}", f"summary.{name}"]


def named_columns_frame(
    runs: Runs, names: Sequence[str], base: Sequence[str]
) -> pd.DataFrame:
    """The runs table of ``base`` then ``names`` (``--columns``), asking the
    server for only those config and summary keys; CliError naming the
    closest keys for a name no run has."""
    asked = [*base, *(c for name in names for c in _candidates(name))]
    with warnings.catch_warnings():  # a name no run has is told below
        warnings.simplefilter("ignore", KeyWarning)
        try:
            frame = runs_frame(runs, columns=list(dict.fromkeys(asked)))
        except InvalidArgumentError as exc:
            raise CliError(f"--columns: {exc}") from exc
    chosen = list(base)
    for name in names:
        found = [c for c in _candidates(name) if frame[c].notna().any()]
        if found or frame.empty:
            chosen.append((found or _candidates(name))[0])
            continue
        keys = fetch_project_keys(runs.client, runs.entity, runs.project)
        known = [] if keys is None else [
            *sorted(keys.config), *(f"summary.{k}" for k in sorted(keys.summary))
        ]  # fmt: skip
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"closest: {', '.join(close)}" if close else "no key is close"
        raise CliError(
            f"--columns {name!r} is not a column of these runs ({hint}); config "
            "keys are named bare or config.KEY, summary keys summary.KEY."
        )
    narrowed: pd.DataFrame = frame[list(dict.fromkeys(chosen))]
    return narrowed


def resolve_column(name: str, columns: Sequence[str], option: str) -> str:
    """A column by its name, or by a config/summary key without the prefix."""
    for candidate in (name, f"config.{name}", f"summary.{name}"):
        if candidate in columns:
            return candidate
    shown = ", ".join(c for c in columns if c != "tags")
    raise CliError(
        f"{option} {name!r} is not a column of these runs; choose among: {shown}."
    )
