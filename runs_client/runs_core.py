"""What ``Runs`` and ``AsyncRuns`` share: the request of each page, the
checks of its answer, the runs built from it and the sweeps they need, as
flows (``transport.flows``) that a sync or an async loop sends.

``RunsCore`` holds a collection's state (runs held, cursor, count) and
advances it only through these flows, so both collections page, guard and
count the same way.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import runs_gql
from runs_gql import RunFields, RunListFields
from runs_gql import SweepByNameProjectSweep as SweepFields
from runs_gql.base_model import UNSET

from ._exceptions import GraphQLError, InvalidArgumentError, NotFoundError
from .history.policy import is_too_large
from .key_hints import (
    ProjectKeys,
    filter_fields,
    has_path,
    order_field,
    project_keys_flow,
    warn_missing,
)
from .run_listing import (
    ASSUMED_RUN_BYTES,
    DEFAULT_PAGE,
    LEAN_RUN_BYTES,
    next_page_size,
    page_cap_flow,
    run_bytes,
)
from .sweep import sweep_flow
from .transport.flows import Flow, call
from .transport.jsonio import dumps_compact
from .transport.page_guard import PageGuard

__all__ = ["RunsCore", "last_position", "run_flow"]

RunT = TypeVar("RunT")
SweepT = TypeVar("SweepT")


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


def as_index(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"Runs {what} must be integers or None, not {type(value).__name__}."
        ) from None


def last_position(index: slice) -> int | None:
    """The highest position ``index`` can select, or None if it is relative to
    the end (a negative bound, or an open end in the direction of travel)."""
    start = None if index.start is None else as_index(index.start, "slice bounds")
    stop = None if index.stop is None else as_index(index.stop, "slice bounds")
    step = 1 if index.step is None else as_index(index.step, "slice steps")
    if step == 0:
        raise ValueError("Runs slice step cannot be zero.")
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        return None
    if step > 0:
        return None if stop is None else stop - 1
    return start


class RunsCore(Generic[RunT, SweepT]):
    """A collection's state and the flows that advance it.

    Subclasses say how a run and a sweep are built (``_make_run``,
    ``_make_sweep``) and run the flows on their client.
    """

    def __init__(
        self,
        client: Any,
        entity: str,
        project: str,
        filters: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int | None = 50,
        include_sweeps: bool = True,
        *,
        lazy: bool = False,
    ) -> None:
        if per_page is not None:
            _check_per_page(per_page)
        if not isinstance(lazy, bool):
            raise InvalidArgumentError(f"lazy must be True or False; got {lazy!r}.")
        filters_json = _filters_json(filters)
        self.client = client
        self.entity = entity
        self.project = project
        self.filters = filters
        self.order = order
        # per_page=None: each page sized by run_listing's byte budget.
        self._auto = per_page is None
        self.per_page = DEFAULT_PAGE if per_page is None else per_page
        self.include_sweeps = include_sweeps
        self.lazy = lazy
        # The config and summary keys asked of each run; None: all of them.
        self._keys: tuple[list[str], list[str]] | None = ([], []) if lazy else None
        self._run_fields = True  # lean pages: the run fields besides the ids
        self._largest_run = 0  # bytes of the largest run read, for page sizes
        self.variables: dict[str, Any] = {
            "entity": entity,
            "project": project,
            "filters": filters_json,
            "order": order,
        }
        self.objects: list[RunT] = []
        self.index = -1
        self.last_response: runs_gql.RunsPage | runs_gql.RunsPageSelected | None = None
        self._count: int | None = None
        self._more = True
        self._guard = PageGuard(f"run pager for {entity}/{project}", self.per_page)
        self._sweeps: dict[str, SweepT | None] = {}
        self._hinted = False

    def _make_run(self, fields: RunFields, sweep: SweepT | None) -> RunT:
        raise NotImplementedError

    def _make_sweep(self, fields: SweepFields) -> SweepT:
        raise NotImplementedError

    def _make_listed_run(self, fields: RunListFields, sweep: SweepT | None) -> RunT:
        """A run of a lean page (named keys, or lazy): sync collections only."""
        raise NotImplementedError("this collection lists only whole runs")

    def _page_built(self, runs: list[RunT]) -> None:
        """Called with each page's new runs (lazy collections attach loaders)."""

    def selecting(
        self, config_keys: list[str], summary_keys: list[str], run_fields: bool
    ) -> Any:
        """A new collection of the same runs (same filters, order and page
        size; no sweeps) whose pages hold only ``config_keys`` of each run's
        config and ``summary_keys`` of its summary (top-level keys), and,
        unless ``run_fields``, no run field but the ids."""
        per_page = None if self._auto else self.per_page
        clone = type(self)(
            self.client,
            self.entity,
            self.project,
            self.filters,
            self.order,
            per_page,
            False,
        )
        clone._keys = (list(config_keys), list(summary_keys))
        clone._run_fields = run_fields
        return clone

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
        self._guard.per_page = self.per_page

    def _size_flow(self) -> Flow[None]:
        """Size the next page when the caller left it to us (``per_page=None``):
        as many runs as ``run_listing.PAGE_BYTES`` holds, at most the page cap
        the server advertises (``DEFAULT_PAGE`` when it advertises none)."""
        cap = yield from page_cap_flow(self.client)
        if cap is None:
            self.per_page = next_page_size(DEFAULT_PAGE, self._largest_run)
            return
        assumed = LEAN_RUN_BYTES if self._keys is not None else ASSUMED_RUN_BYTES
        self.per_page = next_page_size(cap, self._largest_run or assumed)

    def _request_flow(self) -> Flow[runs_gql.RunsPage | runs_gql.RunsPageSelected]:
        """Ask the next page; a page the caller did not size that the server
        refuses as too large is asked again at half the size."""
        while True:  # each refusal halves per_page: at most log2(cap) rounds
            self.update_variables()
            v = self.variables
            page_args: dict[str, Any] = {
                "cursor": v["cursor"] if v["cursor"] is not None else UNSET,
                "per_page": v["perPage"],
                "order": v["order"] if v["order"] is not None else UNSET,
                "filters": v["filters"] if v["filters"] is not None else UNSET,
            }
            try:
                if self._keys is None:
                    page: runs_gql.RunsPage = yield call(
                        "runs_page", self.entity, self.project, **page_args
                    )
                    return page
                selected: runs_gql.RunsPageSelected = yield call(
                    "runs_page_selected",
                    self.entity,
                    self.project,
                    config_keys=self._keys[0],
                    summary_keys=self._keys[1],
                    with_run_fields=self._run_fields,
                    **page_args,
                )
                return selected
            except GraphQLError as exc:
                if not (self._auto and self.per_page > 1 and is_too_large(exc)):
                    raise
                self.per_page //= 2

    def _convert_flow(self) -> Flow[list[RunT]]:
        """The runs of the last loaded page, with their sweeps attached."""
        project = self.last_response.project if self.last_response else None
        if project is None:
            raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
        edges = project.runs.edges if project.runs else None
        runs: list[RunT] = []
        for edge in edges or []:
            if edge is None or edge.node is None:
                continue
            sweep = None
            name = edge.node.sweep_name
            if self.include_sweeps and name:
                # Many runs share a sweep: ask for each distinct one only once.
                if name not in self._sweeps:
                    fields = yield from sweep_flow(self.entity, self.project, name)
                    made = None if fields is None else self._make_sweep(fields)
                    self._sweeps[name] = made
                sweep = self._sweeps[name]
            node = edge.node
            if isinstance(node, RunFields):
                runs.append(self._make_run(node, sweep))
            else:
                runs.append(self._make_listed_run(node, sweep))
        return runs

    def _hint_flow(self, first_page: list[RunT] | None) -> Flow[None]:
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
        # A lean page holds only some config and summary keys, if any.
        order = order_field(self.order) if self._keys is None else None
        if order is not None and first_page:
            kind, key = order
            runs: list[Any] = list(first_page)
            if not any(
                has_path(run.config if kind == "config" else run.summary, key)
                for run in runs
            ):
                wanted.append(order)
        where = "filters" if not first_page else "order"
        states = [w for w in wanted if w[0] == "state"]
        keyed = [w for w in wanted if w[0] != "state"]
        path = f"{self.entity}/{self.project}"
        no_keys = ProjectKeys(frozenset(), frozenset(), frozenset())
        warn_missing(states, no_keys, path, "filters")
        if keyed:
            keys = yield from project_keys_flow(self.entity, self.project)
            if keys is not None:
                warn_missing(keyed, keys, path, where)

    def _page_flow(self) -> Flow[bool]:
        """Load the next page; False when there is none."""
        if not self._more:
            return False
        if self._auto:
            yield from self._size_flow()
        response = yield from self._request_flow()
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
            runs = yield from self._convert_flow()
        except BaseException:
            # E.g. a sweep request failed: keep the old cursor so that this
            # page is asked again, not skipped, on the next attempt.
            self.last_response = previous
            raise
        self._guard.record(ids, fresh, end)
        first = not self.objects
        # A run the server listed again is skipped (the guard warned).
        added = [r for r, new in zip(runs, fresh, strict=True) if new]
        self.objects.extend(added)
        self._page_built(added)
        if self._auto and project.runs:
            nodes = [e.node for e in project.runs.edges or () if e and e.node]
            sizes = [run_bytes(node) for node in nodes]
            self._largest_run = max([self._largest_run, *sizes])
        if first:
            yield from self._hint_flow(runs)
        self._more = has_next
        # Once every page is in, what we hold is the truth (runs may have been
        # added or removed since the count was taken).
        self._count = project.run_count if has_next else len(self.objects)
        return True

    def _through_flow(self, position: int | None) -> Flow[None]:
        """Load pages until ``position`` is held; None loads every page."""
        while position is None or len(self.objects) <= position:
            if not (yield from self._page_flow()):
                return

    def _count_flow(self) -> Flow[int]:
        """The number of runs matching the filters (the server's ``runCount``)."""
        if self._count is None and not self.objects:
            result: runs_gql.RunCount = yield call(
                "run_count",
                self.entity,
                self.project,
                filters=self.variables["filters"] or UNSET,
            )
            if result.project is None:
                raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
            self._count = result.project.run_count
            if self._count == 0:
                yield from self._hint_flow(None)
        if self._count is None:
            # The server gave no count: count what there is.
            yield from self._through_flow(None)
            self._count = len(self.objects)
        return self._count

    def _item_flow(self, index: int | slice) -> Flow[RunT | list[RunT]]:
        """A run by position (negative counts from the end), or a list for a
        slice; loads only the pages up to the position asked for."""
        if isinstance(index, slice):
            yield from self._through_flow(last_position(index))
            return self.objects[index]
        position = as_index(index, "indices")
        yield from self._through_flow(position if position >= 0 else None)
        try:
            return self.objects[position]
        except IndexError:
            raise IndexError(
                f"Runs index {position} out of range: {self.entity}/{self.project} "
                f"has {len(self.objects)} matching runs."
            ) from None

    def _next_flow(self) -> Flow[RunT | None]:
        """The next run, None after the last."""
        # The position moves only once its run is held: a page load that fails
        # (and is caught) must not make the next call skip a run.
        position = self.index + 1
        yield from self._through_flow(position)
        if position >= len(self.objects):
            return None
        self.index = position
        return self.objects[position]


def run_flow(
    entity: str,
    project: str,
    run_id: str,
    *,
    include_sweeps: bool,
    make_sweep: Callable[[SweepFields], SweepT],
) -> Flow[tuple[RunFields, SweepT | None]]:
    """One run's fields by its run id; with ``include_sweeps``, its sweep too.

    Raises:
        NotFoundError: the project or the run does not exist.
    """
    result: runs_gql.RunByName = yield call("run_by_name", entity, project, run_id)
    if result.project is None:
        raise NotFoundError(f"Project {entity}/{project} not found.")
    if result.project.run is None:
        raise NotFoundError(f"Run {entity}/{project}/{run_id} not found.")
    fields = result.project.run
    sweep = None
    if include_sweeps and fields.sweep_name:
        found = yield from sweep_flow(entity, project, fields.sweep_name)
        sweep = None if found is None else make_sweep(found)
    return fields, sweep
