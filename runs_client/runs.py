"""``Runs``: the lazily paged, indexable collection of a project's runs.

The public surface is the W&B SDK's ``Runs`` (v0.18) member for member:
``QUERY``, ``convert_objects()``, ``histories()``, ``next()``,
``update_variables()``, ``__getitem__``, ``__iter__`` and ``__len__``. What
it requests and how it reads the answers is ``RunsCore``'s (shared with
``AsyncRuns``); this class runs those flows on the sync client.
"""

from __future__ import annotations

from typing import Any, ClassVar, overload

import runs_gql
from runs_gql import RunFields, RunListFields
from runs_gql import SweepByNameProjectSweep as SweepFields
from runs_gql.operations import RUNS_PAGE_GQL

from .run import Run
from .run_listing import heavy_fields_flow
from .runs_core import RunsCore, run_flow
from .runs_histories import RunsHistories
from .sweep import Sweep
from .transport.flows import run

__all__ = ["Runs", "fetch_run"]


class Runs(RunsCore[Run, Sweep], RunsHistories):
    """An iterable, indexable collection of a project's runs, optionally filtered.

    Usually obtained from ``Api.runs``. Pages of ``per_page`` runs are loaded
    on demand and kept: indexing loads only the pages up to that position,
    ``len()`` asks the server's run count (one request at most), iterating
    again refetches nothing. As in the SDK, ``iter(runs)`` resets the position
    and returns the collection itself, and ``next()`` advances it.

    Args:
        client: the generated GraphQL client (the retrying one ``Api`` holds).
        entity: the entity (user or team) owning the project.
        project: the project name.
        filters: a MongoDB-style filter, e.g. ``{"state": "finished"}``.
        order: e.g. ``"+created_at"`` or ``"-summary_metrics.loss"``; None
            leaves the server's default (``+created_at``).
        per_page: runs per request; None sizes pages (``run_listing``).
        include_sweeps: attach each run's sweep as ``run.sweep``; each
            distinct sweep is fetched once.
        lazy: list runs without config, summary and system metrics, loaded
            for a whole page at the first read of one of them.

    Raises:
        InvalidArgumentError: ``per_page`` < 1 or ``filters`` not a
            JSON-serialisable dict, before any request.
    """

    QUERY: ClassVar[str] = RUNS_PAGE_GQL

    def __init__(
        self,
        client: runs_gql.Client,
        entity: str,
        project: str,
        filters: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int | None = 50,
        include_sweeps: bool = True,
        lazy: bool = False,
    ) -> None:
        super().__init__(
            client,
            entity,
            project,
            filters,
            order,
            per_page,
            include_sweeps,
            lazy=lazy,
        )
        self.client: runs_gql.Client = client

    def _make_run(self, fields: RunFields, sweep: Sweep | None) -> Run:
        return Run(self.client, self.entity, self.project, fields, sweep=sweep)

    def _make_listed_run(self, fields: RunListFields, sweep: Sweep | None) -> Run:
        return Run(self.client, self.entity, self.project, fields, sweep=sweep)

    def _page_built(self, runs: list[Run]) -> None:
        if self.lazy and runs:
            _LazyPage(self.client, self.entity, self.project, runs).attach()

    def _make_sweep(self, fields: SweepFields) -> Sweep:
        return _sweep(self.client, self.entity, self.project, fields)

    def convert_objects(self) -> list[Run]:
        """The runs of the last loaded page, with their sweeps attached.

        Raises:
            NotFoundError: the project does not exist (or no page was loaded).
        """
        return run(self.client, self._convert_flow())

    def _load_page(self) -> bool:
        """Load the next page; False when there is none."""
        return run(self.client, self._page_flow())

    def _load_through(self, position: int | None) -> None:
        """Load pages until ``position`` is held; None loads every page."""
        run(self.client, self._through_flow(position))

    # -- sequence protocol -----------------------------------------------

    def __len__(self) -> int:
        """The number of runs matching the filters (the server's ``runCount``)."""
        return run(self.client, self._count_flow())

    @overload
    def __getitem__(self, index: int) -> Run: ...

    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        """A run by position (negative counts from the end), or a list for a slice.

        Loads only the pages up to the position asked for; positions relative
        to the end need every page, since pages are read in order.
        """
        return run(self.client, self._item_flow(index))

    def __iter__(self) -> Runs:
        """Reset the position and return the collection itself, as the SDK does."""
        self.index = -1
        return self

    def __next__(self) -> Run:
        found = run(self.client, self._next_flow())
        if found is None:
            raise StopIteration
        return found

    def next(self) -> Run:
        """The next run; raises ``StopIteration`` after the last one."""
        return self.__next__()

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"


class _LazyPage:
    """The runs of one lazy page: their config, summary and system metrics
    are loaded together, in one request, at the first read of any of them."""

    def __init__(
        self, client: runs_gql.Client, entity: str, project: str, runs: list[Run]
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self.runs = runs

    def attach(self) -> None:
        for r in self.runs:
            r._heavy_loader = self.load

    def load(self) -> None:
        found = run(
            self.client,
            heavy_fields_flow(self.entity, self.project, [r.id for r in self.runs]),
        )
        for r in self.runs:
            # A run deleted since it was listed has none: empty, as W&B's "{}".
            r._set_heavy(*found.get(r.id, (None, None, None)))
            r._heavy_loader = None


def _sweep(
    client: runs_gql.Client, entity: str, project: str, fields: SweepFields
) -> Sweep:
    return Sweep(
        fields, entity, project, base_url=client.url, client=client, runs_factory=Runs
    )


def fetch_run(
    client: runs_gql.Client,
    entity: str,
    project: str,
    run_id: str,
    *,
    include_sweeps: bool = True,
) -> Run:
    """Fetch one run by its run id; with ``include_sweeps``, its sweep too.

    Raises:
        NotFoundError: the project or the run does not exist.
    """
    fields, sweep = run(
        client,
        run_flow(
            entity,
            project,
            run_id,
            include_sweeps=include_sweeps,
            make_sweep=lambda found: _sweep(client, entity, project, found),
        ),
    )
    return Run(client, entity, project, fields, sweep=sweep)
