"""Reliability suite: hostile inputs, faults, load; tallies the figures it proves.

Each test adds what it did to ``TALLY`` (requests the servers received,
faults they injected, bad inputs tried, rows lost); the summary at the end of
the run prints them, so ``make reliability`` reports figures measured by the
run itself, never typed by hand. The hooks that sum and print them are in
tests/conftest.py, so that they also sum the figures of pytest-xdist workers.
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
    # issue 17, the server (tests/reliability/test_hostile_server.py and
    # tests/server_bounds): each peak figure is set by one test only.
    ("hostile_requests", "hostile requests tried"),
    ("server_peak_mib", "server peak memory (MiB)"),
    ("server_peak_bound_mib", "its stated bound (MiB)"),
    ("server_after_mib", "server memory after them (MiB)"),
    ("connections_refused", "connections refused or timed out"),
)


def track(app: RunsServerApp) -> RunsServerApp:
    """Count this app's requests and faults in the summary."""
    _APPS.append(app)
    return app


def measured() -> Counter[str]:
    """This process's figures (``apps``: how many servers it tracked)."""
    figures = Counter(TALLY)
    figures["requests"] = sum(app.requests_seen for app in _APPS)
    figures["faults"] = sum(app.faults.injected for app in _APPS)
    figures["apps"] = len(_APPS)
    return figures


def report(terminalreporter: pytest.TerminalReporter, figures: Counter[str]) -> None:
    if not figures["apps"]:
        return
    terminalreporter.section("reliability figures (measured by this run)")
    for key, label in FIGURES:
        terminalreporter.write_line(f"{label:>32}: {figures[key]:,}")
