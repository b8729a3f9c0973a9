"""``runs-client mirror``: a local copy of a project, then a closing summary."""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

from rich.console import Console

from runs_cli.errors import EXIT_ERROR, CliError
from runs_client import Api


def mirror(
    api: Api,
    path: str,
    db: str,
    *,
    filters: dict[str, Any] | None,
    prune: bool,
    console: Console | None = None,
) -> None:
    from runs_mirror import mirror_project
    from runs_server.store import Store, StoreError

    try:
        store = Store(db)
    except (StoreError, OSError, sqlite3.Error) as exc:
        raise CliError(
            f"cannot open {db} as a runs store: {exc}", exit_code=EXIT_ERROR
        ) from None
    with store:
        summary = mirror_project(
            api, path, store, filters=filters, prune=prune, progress=None
        )
    out = console or Console(stderr=False, highlight=False, soft_wrap=True)
    out.print(summary.describe(), markup=False)
    if sys.stdout.isatty():
        out.print(f"Serve it: runs-client serve --db {db}", markup=False)
