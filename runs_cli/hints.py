"""``KeyWarning`` from the client as one line on stderr, in the CLI's terms:
config keys bare (as ``--where`` and ``--order`` take them), summary keys as
``summary.KEY``. Other warnings are shown as Python shows them."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from runs_client import KeyWarning

__all__ = ["cli_field", "key_warning_line", "key_warnings_as_lines"]

PROG = "runs-client"
_WHERE = {"filters": "--filter/--where", "order": "--order", "keys": "--keys/--key"}


def cli_field(field: str) -> str:
    """A field as the server names it, as the CLI's options take it."""
    for prefix, cli in (("config.", ""), ("summary_metrics.", "summary.")):
        if field.startswith(prefix):
            return cli + field.removeprefix(prefix)
    return field


def key_warning_line(warning: KeyWarning) -> str:
    what = "state" if warning.kind == "state" else f"{warning.kind} key"
    named = f"summary.{warning.key}" if warning.kind == "summary" else warning.key
    closest = ", ".join(cli_field(c) for c in warning.closest)
    hint = f"; closest: {closest}" if closest else ""
    return (
        f"{PROG}: warning: {_WHERE.get(warning.where, warning.where)} names the "
        f"{what} {named!r}, which no run of {warning.path} has{hint}"
    )


@contextmanager
def key_warnings_as_lines() -> Iterator[None]:
    """While the command runs, a ``KeyWarning`` prints one line on stderr."""
    shown = warnings.showwarning
    printed: set[str] = set()  # --limit lists twice: one line each still

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> Any:
        if isinstance(message, KeyWarning):
            text = key_warning_line(message)
            if text not in printed:
                printed.add(text)
                print(text, file=sys.stderr)
            return None
        return shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", KeyWarning)
        warnings.showwarning = show
        yield
