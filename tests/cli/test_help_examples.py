"""Every example a ``--help`` text gives runs as shown, with every command
that takes the option, against the demo project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from runs_cli.main import cli as group
from runs_cli.options import HELP_EXAMPLES

pytestmark = pytest.mark.e2e

# What each command needs besides the option under test, kept small.
BASE_ARGS = {
    "runs": ["--limit", "3"],
    "histories": ["--limit", "2", "--samples", "10", "-o", "h.parquet"],
    "plot": ["--limit", "3", "--samples", "20", "--key", "loss", "-o", "p.png"],
    "mirror": ["--db", "copy.db"],
}


def _uses() -> list[tuple[str, str, str]]:
    uses = []
    for name, command in group.commands.items():
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for option in param.opts:
                for value in HELP_EXAMPLES.get(option, ()):
                    uses.append((name, option, value))
    return uses


def test_every_example_is_recorded() -> None:
    """A help text says "e.g." only through ``examples()``, which records it."""
    for command in group.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and "e.g." in (param.help or ""):
                assert any(o in HELP_EXAMPLES for o in param.opts), param.opts
    assert {c for c, _, _ in _uses()} == set(BASE_ARGS)


@pytest.mark.parametrize(("command", "option", "value"), _uses())
def test_help_example_runs(
    cli: Any, tmp_path: Path, command: str, option: str, value: str
) -> None:
    args = [*BASE_ARGS[command], option, value]
    if command == "plot" and option == "--key":
        args = [a for a in args if a not in ("--key", "loss")] + [option, value]
    done = cli(command, "demo/mnist", *args, cwd=tmp_path)
    assert done.code == 0, (args, done.err)
    assert "error" not in done.err
