"""What changed since the last sync, and the pages of runs that fetch it.

The copy itself is the sync state: each run's stored ``updated_at``,
``heartbeat_at``, ``state`` and history line count are what the source said
when the run was last written, so a run whose markers differ from the
source's listing is fetched again, and only the steps after the copy's last
step. A run cut short by an interrupted sync has fewer lines than the source
and is picked up where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from runs_server.store.runs import RunIndexEntry
from runs_server.store.timeutil import iso

# W&B's and runs_server's cap on ``samples`` per run: a step window never
# spans more steps than this, so it is never sampled down.
MAX_SAMPLES = 100_000
# Runs per request when they carry all their fields (config, summary, ...)
# and events: keeps one response to a few MB.
MAX_RUNS_PER_PAGE = 200


@dataclass(frozen=True)
class SourceRun:
    """A run as the source lists it: its change markers."""

    name: str
    state: str | None
    created_at: str | None
    updated_at: str | None
    heartbeat_at: str | None
    history_line_count: int


@dataclass(frozen=True)
class Fetch:
    """One run to fetch: its fields, events, and history from ``start`` on.

    ``start`` is None for the whole history; ``restart`` clears the copy's
    history first (the source's is shorter than the copy's: rewritten).
    """

    name: str
    start: int | None
    expected_rows: int
    charged_rows: int  # what the server charges to its row cap for this run
    new: bool
    restart: bool


@dataclass(frozen=True)
class Page:
    """Runs fetched together: the same first step, one request per window."""

    fetches: tuple[Fetch, ...]
    start: int | None
    window: int | None  # steps per request; None: everything in one request

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fetches]


@dataclass
class Plan:
    fetches: list[Fetch]
    unchanged: list[str]
    gone: list[str]


def changed(source: SourceRun, copy: RunIndexEntry) -> bool:
    updated = (
        iso(source.updated_at) or iso(source.heartbeat_at) or iso(source.created_at)
    )
    return (
        source.state != copy.state
        or updated != copy.updated_at
        or iso(source.heartbeat_at) != copy.heartbeat_at
        or source.history_line_count != copy.history_line_count
    )


def plan(source: Sequence[SourceRun], copy: Mapping[str, RunIndexEntry]) -> Plan:
    fetches: list[Fetch] = []
    unchanged: list[str] = []
    for run in source:
        held = copy.get(run.name)
        total = run.history_line_count
        if held is None:
            fetches.append(Fetch(run.name, None, total, total, True, False))
        elif not changed(run, held):
            unchanged.append(run.name)
        elif total < held.history_line_count or held.last_step is None:
            fetches.append(Fetch(run.name, None, total, total, False, True))
        else:
            more = total - held.history_line_count
            fetches.append(
                Fetch(run.name, held.last_step + 1, more, total, False, False)
            )
    listed = {run.name for run in source}
    gone = sorted(name for name in copy if name not in listed)
    return Plan(fetches, unchanged, gone)


def pages(fetches: Sequence[Fetch], row_budget: int) -> Iterator[Page]:
    """Pages of runs with the same first step, within the row budget.

    A page asks for everything at once when the server's row charge for it
    (each run's whole line count, up to ``MAX_SAMPLES``) fits the budget; a
    run too long for that gets a page of its own, fetched in step windows of
    ``row_budget`` steps (fewer rows than steps, so never sampled).
    """
    by_start: dict[int | None, list[Fetch]] = {}
    for fetch in fetches:
        by_start.setdefault(fetch.start, []).append(fetch)
    for start, group in by_start.items():
        page: list[Fetch] = []
        charged = 0
        for fetch in group:
            cost = min(fetch.charged_rows, MAX_SAMPLES)
            if fetch.charged_rows > min(row_budget, MAX_SAMPLES):
                yield Page((fetch,), start, min(row_budget, MAX_SAMPLES))
                continue
            if page and (charged + cost > row_budget or len(page) >= MAX_RUNS_PER_PAGE):
                yield Page(tuple(page), start, None)
                page, charged = [], 0
            page.append(fetch)
            charged += cost
        if page:
            yield Page(tuple(page), start, None)
