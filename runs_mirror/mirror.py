"""The mirror loop: list, plan, fetch pages (a few in flight), write each page
in one store transaction, prune, summarise.

Killed at any point, the copy holds whole pages only; the next run compares
the copy with the source again and fetches what is missing, so the result is
the same as one clean sync.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import orjson
from tqdm import tqdm

import runs_client
from runs_client.bulk_policy import MAX_IN_FLIGHT, ROW_BUDGET, StepWindows
from runs_mirror import write
from runs_mirror.errors import MirrorError
from runs_mirror.plan import MAX_SAMPLES, Page, pages, plan
from runs_mirror.source import Node, Source, is_too_large
from runs_mirror.summary import MirrorSummary
from runs_server.store import Store, StoreWriteError

EXIT_AFTER_ENV = "RUNS_MIRROR_EXIT_AFTER_PAGES"
"""Test hook: exit the process hard (``os._exit``) after this many pages."""
EXIT_CODE = 75
META_PREFIX = "mirror:"


def _split(path: str) -> tuple[str, str]:
    entity, sep, project = path.partition("/")
    if not sep or not entity or not project or "/" in project:
        raise MirrorError(
            f"{path!r} is not a project path; pass ENTITY/PROJECT, e.g. demo/mnist"
        )
    return entity, project


def mirror_project(
    api: runs_client.Api,
    path: str,
    store: Store,
    *,
    filters: dict[str, Any] | None = None,
    prune: bool = False,
    progress: bool | None = None,
    row_budget: int = ROW_BUDGET,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> MirrorSummary:
    """Copy project ``path`` ("entity/project") from ``api``'s server into ``store``.

    The first call copies every run (or those matching ``filters``, W&B's
    MongoDB-style run filters) with its fields, full history and system
    events; later calls fetch only runs created or changed since, and of
    those only the history steps after the copy's last one. Runs the source
    no longer lists are reported in the summary and, with ``prune``,
    deleted from the copy. ``progress``: a progress bar (default: when
    stderr is a terminal).
    """
    if filters is not None and not isinstance(filters, dict):
        raise MirrorError(
            f"filters={filters!r} is not accepted; pass a dict such as "
            '{"state": "finished"} or None'
        )
    entity, project = _split(path)
    mirror = _Mirror(api, entity, project, store, filters, row_budget, max_in_flight)
    try:
        return mirror(prune, sys.stderr.isatty() if progress is None else progress)
    except StoreWriteError as exc:
        raise MirrorError(
            f"{exc}; the copy keeps every page written before, so mirroring "
            "again goes on from there"
        ) from exc


class _Mirror:
    def __init__(
        self,
        api: runs_client.Api,
        entity: str,
        project: str,
        store: Store,
        filters: dict[str, Any] | None,
        row_budget: int,
        max_in_flight: int,
    ) -> None:
        self.path = f"{entity}/{project}"
        self.entity = entity
        self.store = store
        self.filters = filters
        self.source = Source(api, entity, project, filters, max_in_flight)
        self.row_budget = max(1, row_budget)
        self.max_in_flight = max(1, max_in_flight)
        self.summary = MirrorSummary(self.path)
        self.sweeps: set[str] = set()
        self.pages_written = 0
        exit_after = os.environ.get(EXIT_AFTER_ENV)
        self.exit_after = int(exit_after) if exit_after else None

    def __call__(self, prune: bool, show_progress: bool) -> MirrorSummary:
        started = time.perf_counter()
        info, listed = self.source.list_runs()
        with self.store.transaction():
            write.ensure_project(self.store, self.entity, self.source.project, info)
        held = self.store.runs.index(self.path)
        work = plan(listed, held)
        self.summary.unchanged = len(work.unchanged)
        self.summary.gone = work.gone
        with tqdm(
            total=len(work.fetches),
            unit="run",
            desc=f"mirror {self.path}",
            disable=not show_progress,
        ) as bar:
            for page, nodes, window in self._first_pages(work.fetches):
                self._write_page(page, nodes, window)
                bar.update(len(page.fetches))
        if prune and work.gone:
            with self.store.transaction():
                for name in work.gone:
                    self.store.runs.delete(held[name].id)
            self.summary.pruned = len(work.gone)
        if self.source.per_run is not None:
            self.summary.warnings.append(
                f"The source refused history on the runs connection "
                f"({self.source.per_run}); runs were fetched one by one."
            )
        self.store.set_meta(
            META_PREFIX + self.path,
            orjson.dumps(
                {
                    "source": self.source.url,
                    "filters": self.filters,
                    "synced_at": datetime.now(timezone.utc).isoformat(),
                    "runs": len(listed),
                }
            ).decode(),
        )
        self.summary.requests = self.source.requests
        self.summary.bytes = self.source.bytes
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    # -- fetching ----------------------------------------------------------

    def _first_pages(
        self, fetches: list[Any]
    ) -> Iterator[tuple[Page, list[Node], int | None]]:
        """Each page's first response, up to ``max_in_flight`` requests ahead."""
        todo = iter(list(pages(fetches, self.row_budget)))
        with ThreadPoolExecutor(self.max_in_flight, "runs-mirror-page") as pool:
            flight: deque[Future[list[tuple[Page, list[Node], int | None]]]]
            flight = deque()

            def submit() -> None:
                page = next(todo, None)
                if page is not None:
                    flight.append(pool.submit(self._fetch_first, page))

            for _ in range(self.max_in_flight):
                submit()
            while flight:
                parts = flight.popleft().result()
                submit()
                yield from parts

    def _fetch_first(self, page: Page) -> list[tuple[Page, list[Node], int | None]]:
        """The page's runs with their first window: the page as sub-pages, each
        with the window it settled on (a page refused as too large is asked
        as two halves, a single run in ever smaller step windows)."""
        low = page.start if page.window is None else (page.start or 0)
        high = None if page.window is None else low + page.window  # type: ignore[operator]
        try:
            nodes = self.source.first_page(page.names, low, high)
            return [(page, nodes, page.window)]
        except Exception as exc:
            if not is_too_large(exc) or page.window == 1:
                raise
        if len(page.fetches) > 1:
            half = len(page.fetches) // 2
            return [
                *self._fetch_first(replace(page, fetches=page.fetches[:half])),
                *self._fetch_first(replace(page, fetches=page.fetches[half:])),
            ]
        window = max(1, (page.window or self.row_budget) // 2)
        return self._fetch_first(replace(page, window=window))

    # -- writing -----------------------------------------------------------

    def _page_done(self) -> None:
        self.pages_written += 1
        if self.exit_after is not None and self.pages_written >= self.exit_after:
            sys.stderr.flush()
            os._exit(EXIT_CODE)

    def _write_page(self, page: Page, nodes: list[Node], window: int | None) -> None:
        by_name = {node["name"]: node for node in nodes}
        new_sweeps = {
            sweep
            for node in nodes
            if (sweep := node.get("sweepName")) and sweep not in self.sweeps
        }
        sweeps = [(name, self.source.sweep(name)) for name in sorted(new_sweeps)]
        ongoing: dict[str, tuple[int, int, int]] = {}  # name: (run, last, expected)
        with self.store.transaction():
            for _name, sweep in sweeps:
                if sweep is not None:
                    write.put_sweep(self.store, self.path, sweep)
            for fetch in page.fetches:
                node = by_name.get(fetch.name)
                if node is None:
                    self.summary.warnings.append(
                        f"run {fetch.name} was deleted at the source while mirroring"
                    )
                    continue
                run, rows, events = write.write_first(
                    self.store,
                    self.path,
                    node,
                    existed=not fetch.new,
                    restart=fetch.restart,
                )
                self.summary.history_rows += rows
                self.summary.event_rows += events
                if events >= MAX_SAMPLES:
                    self.summary.warnings.append(
                        f"run {fetch.name} has more system events than the "
                        f"server's cap of {MAX_SAMPLES:,} per request: the copy "
                        "holds the server's sample of them"
                    )
                if fetch.new:
                    self.summary.new += 1
                else:
                    self.summary.updated += 1
                keys = node.get("historyKeys")
                last = keys.get("lastStep") if isinstance(keys, dict) else None
                if window is not None and isinstance(last, int):
                    ongoing[fetch.name] = (
                        run,
                        last,
                        int(node.get("historyLineCount") or 0),
                    )
        self.sweeps |= new_sweeps
        self._page_done()
        if window is not None:
            low = (page.start or 0) + window
            self._windows(ongoing, low, window)

    def _windows(
        self, ongoing: dict[str, tuple[int, int, int]], low: int, window: int
    ) -> None:
        """The remaining step windows of long runs, one transaction each.

        Windows adapt (``StepWindows``): they grow over steps no run logged
        and shrink where an answer was refused or may have been sampled, so
        runs whose steps count tokens (10^13) cost O(rows / budget) requests.
        """
        stop = max((v[1] for v in ongoing.values()), default=low - 1) + 1
        walk = StepWindows(
            low, stop, width=window, rows=self.row_budget, cap=MAX_SAMPLES
        )
        while (span := walk.next()) is not None:
            start, high = span
            active = {name: v for name, v in ongoing.items() if v[1] >= start}
            names = sorted(active)
            try:
                rows = self.source.window(names, start, high)
            except Exception as exc:
                if not is_too_large(exc) or not walk.shrink():
                    raise
                continue
            counts = [len(rows.get(name, [])) for name in names]
            if walk.maybe_sampled(high, counts) and walk.shrink():
                continue
            with self.store.transaction():
                for name in names:
                    self.summary.history_rows += write.append_rows(
                        self.store, active[name][0], rows.get(name, [])
                    )
            self._page_done()
            walk.done(high, sum(counts))
