"""``Runs``: the lazily paged, indexable collection of a project's runs.

The public surface is the W&B SDK's ``Runs`` (v0.18) member for member:
``QUERY``, ``convert_objects()``, ``histories()``, ``next()``,
``update_variables()``, ``__getitem__``, ``__iter__`` and ``__len__``.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, ClassVar, overload

import runs_gql
from runs_gql.base_model import UNSET
from runs_gql.operations import RUNS_PAGE_GQL

from ._exceptions import InvalidArgumentError, NotFoundError
from .key_hints import (
    ProjectKeys,
    fetch_project_keys,
    filter_fields,
    has_path,
    order_field,
    warn_missing,
)
from .run import Run
from .runs_histories import RunsHistories
from .sweep import Sweep, fetch_sweep
from .transport.jsonio import dumps_compact
from .transport.page_guard import PageGuard

if TYPE_CHECKING:
    pass

__all__ = ["Runs", "fetch_run"]


def _filters_json(filters: object) -> str | None:
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise InvalidArgumentError(
            f"filters must be a dict in W&B's MongoDB-style filter language, such "
            f"as {{'state': 'finished'}}, or None; got {type(filters).__name__}."
        )
    try:
        return dumps_compact(filters)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"filters must be JSON-serialisable (str, int, float, bool, None, "
            f"lists and dicts with str keys; no NaN): {exc}."
        ) from exc


def _check_per_page(per_page: object) -> None:
    if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1:
        raise InvalidArgumentError(
            f"per_page must be a positive integer (runs per request, e.g. 50); "
            f"got {per_page!r}."
        )


def _as_index(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"Runs {what} must be integers or None, not {type(value).__name__}."
        ) from None


def _last_position(index: slice) -> int | None:
    """The highest position ``index`` can select, or None if it is relative to
    the end (a negative bound, or an open end in the direction of travel)."""
    start = None if index.start is None else _as_index(index.start, "slice bounds")
    stop = None if index.stop is None else _as_index(index.stop, "slice bounds")
    step = 1 if index.step is None else _as_index(index.step, "slice steps")
    if step == 0:
        raise ValueError("Runs slice step cannot be zero.")
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        return None
    if step > 0:
        return None if stop is None else stop - 1
    return start


class Runs(RunsHistories):
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
        per_page: runs per request.
        include_sweeps: attach each run's sweep as ``run.sweep``; each
            distinct sweep is fetched once.

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
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> None:
        _check_per_page(per_page)
        filters_json = _filters_json(filters)
        self.client = client
        self.entity = entity
        self.project = project
        self.filters = filters
        self.order = order
        self.per_page = per_page
        self.include_sweeps = include_sweeps
        self.variables: dict[str, Any] = {
            "entity": entity,
            "project": project,
            "filters": filters_json,
            "order": order,
        }
        self.objects: list[Run] = []
        self.index = -1
        self.last_response: runs_gql.RunsPage | None = None
        self._count: int | None = None
        self._more = True
        self._guard = PageGuard(f"run pager for {entity}/{project}", per_page)
        self._sweeps: dict[str, Sweep | None] = {}
        self._hinted = False

    # -- key hints ----------------------------------------------------------

    def _hint_keys(self, first_page: list[Run] | None) -> None:
        """Once per collection, after its first page (or a count of 0): warn
        (``KeyWarning``) about filter keys when nothing matched, and about
        the order key when no run of the first page has it. At most one
        request, and only when there is something to check."""
        if self._hinted:
            return
        self._hinted = True
        wanted = []
        if not first_page:
            wanted += list(filter_fields(self.filters))
        order = order_field(self.order)
        if order is not None and first_page:
            kind, key = order
            if not any(
                has_path(run.config if kind == "config" else run.summary, key)
                for run in first_page
            ):
                wanted.append(order)
        where = "filters" if not first_page else "order"
        states = [w for w in wanted if w[0] == "state"]
        keyed = [w for w in wanted if w[0] != "state"]
        path = f"{self.entity}/{self.project}"
        no_keys = ProjectKeys(frozenset(), frozenset(), frozenset())
        warn_missing(states, no_keys, path, "filters")
        if keyed:
            keys = fetch_project_keys(self.client, self.entity, self.project)
            if keys is not None:
                warn_missing(keyed, keys, path, where)

    # -- paging -----------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        """The end cursor of the last loaded page (None before the first)."""
        project = self.last_response.project if self.last_response else None
        runs = project.runs if project else None
        return runs.page_info.end_cursor if runs else None

    @property
    def more(self) -> bool:
        """Whether the server has pages not loaded yet."""
        return self._more

    def update_variables(self) -> None:
        """Set the page size and cursor of the next page request."""
        self.variables.update({"perPage": self.per_page, "cursor": self.cursor})

    def convert_objects(self) -> list[Run]:
        """The runs of the last loaded page, with their sweeps attached.

        Raises:
            NotFoundError: the project does not exist (or no page was loaded).
        """
        project = self.last_response.project if self.last_response else None
        if project is None:
            raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
        edges = project.runs.edges if project.runs else None
        runs: list[Run] = []
        for edge in edges or []:
            if edge is None or edge.node is None:
                continue
            run = Run(self.client, self.entity, self.project, edge.node)
            if self.include_sweeps and run.sweep_name:
                run.sweep = self._sweep(run.sweep_name)
            runs.append(run)
        return runs

    def _sweep(self, name: str) -> Sweep | None:
        # Many runs share a sweep: ask for each distinct one only once.
        if name not in self._sweeps:
            self._sweeps[name] = fetch_sweep(
                self.client, self.entity, self.project, name, runs_factory=Runs
            )
        return self._sweeps[name]

    def _load_page(self) -> bool:
        """Load the next page; False when there is none."""
        if not self._more:
            return False
        self.update_variables()
        v = self.variables
        response = self.client.runs_page(
            self.entity,
            self.project,
            cursor=v["cursor"] if v["cursor"] is not None else UNSET,
            per_page=v["perPage"],
            order=v["order"] if v["order"] is not None else UNSET,
            filters=v["filters"] if v["filters"] is not None else UNSET,
        )
        project = response.project
        if project is None:
            raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
        page_info = project.runs.page_info if project.runs else None
        has_next = page_info is not None and page_info.has_next_page
        end = page_info.end_cursor if page_info else None
        ids = (
            [e.node.name for e in project.runs.edges or () if e and e.node]
            if (project.runs)
            else []
        )
        fresh = self._guard.check(
            ids, has_next=has_next, end_cursor=end, count=project.run_count
        )
        previous, self.last_response = self.last_response, response
        try:
            runs = self.convert_objects()
        except BaseException:
            # E.g. a sweep request failed: keep the old cursor so that this
            # page is asked again, not skipped, on the next attempt.
            self.last_response = previous
            raise
        self._guard.record(ids, fresh, end)
        first = not self.objects
        # A run the server listed again is skipped (the guard warned).
        self.objects.extend(r for r, new in zip(runs, fresh, strict=True) if new)
        if first:
            self._hint_keys(runs)
        self._more = has_next
        # Once every page is in, what we hold is the truth (runs may have been
        # added or removed since the count was taken).
        self._count = project.run_count if has_next else len(self.objects)
        return True

    def _load_through(self, position: int | None) -> None:
        """Load pages until ``position`` is held; None loads every page."""
        while (position is None or len(self.objects) <= position) and self._load_page():
            pass

    # -- sequence protocol -----------------------------------------------

    def __len__(self) -> int:
        """The number of runs matching the filters (the server's ``runCount``)."""
        if self._count is None and not self.objects:
            result = self.client.run_count(
                self.entity,
                self.project,
                filters=self.variables["filters"] or UNSET,
            )
            if result.project is None:
                raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
            self._count = result.project.run_count
            if self._count == 0:
                self._hint_keys(None)
        if self._count is None:
            # The server gave no count: count what there is.
            self._load_through(None)
            self._count = len(self.objects)
        return self._count

    @overload
    def __getitem__(self, index: int) -> Run: ...

    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        """A run by position (negative counts from the end), or a list for a slice.

        Loads only the pages up to the position asked for; positions relative
        to the end need every page, since pages are read in order.
        """
        if isinstance(index, slice):
            self._load_through(_last_position(index))
            return self.objects[index]
        position = _as_index(index, "indices")
        self._load_through(position if position >= 0 else None)
        try:
            return self.objects[position]
        except IndexError:
            raise IndexError(
                f"Runs index {position} out of range: {self.entity}/{self.project} "
                f"has {len(self.objects)} matching runs."
            ) from None

    def __iter__(self) -> Runs:
        """Reset the position and return the collection itself, as the SDK does."""
        self.index = -1
        return self

    def __next__(self) -> Run:
        # The position moves only once its run is held: a page load that fails
        # (and is caught) must not make the next call skip a run.
        position = self.index + 1
        self._load_through(position)
        if position >= len(self.objects):
            raise StopIteration
        self.index = position
        return self.objects[position]

    def next(self) -> Run:
        """The next run; raises ``StopIteration`` after the last one."""
        return self.__next__()

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"


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
    result = client.run_by_name(entity, project, run_id)
    if result.project is None:
        raise NotFoundError(f"Project {entity}/{project} not found.")
    if result.project.run is None:
        raise NotFoundError(f"Run {entity}/{project}/{run_id} not found.")
    fields = result.project.run
    sweep = None
    if include_sweeps and fields.sweep_name:
        sweep = fetch_sweep(
            client, entity, project, fields.sweep_name, runs_factory=Runs
        )
    return Run(client, entity, project, fields, sweep=sweep)
