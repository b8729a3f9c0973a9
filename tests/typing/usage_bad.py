"""Must give mypy exactly two errors (see test_typing.py). Not run."""

from __future__ import annotations

from runs_client import Api


def main() -> None:
    run = Api().run("entity/project/abc123")
    created: int = run.created_at  # error 1: datetime is not int
    print(created, run.no_such_field)  # error 2: Run has no such attribute
