"""Reliability suite: hostile inputs, faults, load; tallies the figures it proves.

Each test adds what it did to ``TALLY`` (requests the servers received,
faults they injected, bad inputs tried, rows lost); the summary at the end of
the run prints them, so ``make reliability`` reports figures measured by the
run itself, never typed by hand.
"""

from __future__ import annotations

from collections import Counter

import pytest

from runs_server.http.app import RunsServerApp

TALLY: Counter[str] = Counter()
_APPS: list[RunsServerApp] = []

FIGURES = (
    ("requests", "requests tried"),
    ("faults", "faults injected"),
    ("bad_inputs", "bad inputs tried"),
    ("rows_checked", "rows checked against the store"),
    ("rows_lost", "rows lost"),
)


def track(app: RunsServerApp) -> RunsServerApp:
    """Count this app's requests and faults in the summary."""
    _APPS.append(app)
    return app


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _APPS:
        return
    TALLY["requests"] = sum(app.requests_seen for app in _APPS)
    TALLY["faults"] = sum(app.faults.injected for app in _APPS)
    terminalreporter.section("reliability figures (measured by this run)")
    for key, label in FIGURES:
        terminalreporter.write_line(f"{label:>32}: {TALLY[key]:,}")
