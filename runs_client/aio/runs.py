"""``AsyncRuns``, ``AsyncRun`` and ``AsyncSweep``: ``Runs``, ``Run`` and
``Sweep`` awaited (one module: each refers to the others).

``AsyncRuns``: paging, guards, counts, indexing and sweeps are
``RunsCore``'s flows (shared with ``Runs``), awaited here; ``AsyncRun`` and
``AsyncSweep`` hold ``RunBase``'s and ``SweepInfo``'s fields and flows.

``api.runs(...)`` sends nothing; ``async for run in runs`` pages lazily;
``await runs.count()`` is ``len``; ``await runs.get(i)`` indexes (negative
counts from the end) and ``await runs.get(slice(a, b))`` slices (a list);
what was loaded is kept, as in ``Runs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, overload

import pandas as pd
from runs_gql import RunFields
from runs_gql import SweepByNameProjectSweep as SweepFields

from .. import run_writes
from ..history.run_rows import Stream, check_scan_args
from ..run import RunBase, history_frame
from ..runs_core import RunsCore
from ..sweep import SweepInfo
from ..transport.async_retrying import AsyncRetryingClient
from ..transport.flows import aiterate, arun
from .histories import AsyncRunsHistories

__all__ = ["AsyncRun", "AsyncRuns", "AsyncSweep"]


class AsyncSweep(SweepInfo):
    """A sweep (see ``SweepInfo``) whose runs are ``AsyncRuns``."""

    def __init__(
        self,
        fields: SweepFields,
        entity: str,
        project: str,
        client: AsyncRetryingClient,
    ) -> None:
        super().__init__(fields, entity, project, base_url=client.url)
        self._client = client

    @property
    def runs(self) -> AsyncRuns:
        """The sweep's runs (lazily paged, oldest first); no request yet."""
        return AsyncRuns(
            self._client,
            self.entity,
            self.project,
            filters={"sweep": self.name},
            include_sweeps=False,
        )

    async def best_run(self, order: str | None = None) -> AsyncRun | None:
        """As ``Sweep.best_run``, awaited."""
        filters, order = self.best_query(order)
        runs = AsyncRuns(
            self._client,
            self.entity,
            self.project,
            filters=filters,
            order=order,
            per_page=1,
            include_sweeps=False,
        )
        found = await runs.get(slice(0, 1))
        return found[0] if found else None


class AsyncRun(RunBase[AsyncRetryingClient, AsyncSweep]):
    """A single run (see ``RunBase``) whose reads and writes are awaited."""

    async def update(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        notes: str | None = None,
        name: str | None = None,
        group: str | None = None,
    ) -> None:
        """As ``Run.update``, awaited: the given fields written; this object
        then shows the run as stored.

        Raises:
            InvalidArgumentError: a malformed argument; nothing was sent.
            GraphQLError: the server refused (e.g. the key may not write here).
        """
        flow = self._update_flow(
            config=config, summary=summary, tags=tags, notes=notes, name=name,
            group=group,
        )  # fmt: skip
        await arun(self.client, flow)

    async def delete(self) -> None:
        """As ``Run.delete``, awaited: the run deleted on the server."""
        await arun(self.client, run_writes.delete_run(self.storage_id))

    async def stop(self) -> None:
        """As ``Run.stop``, awaited: the process logging the run is asked to
        stop it."""
        await arun(self.client, run_writes.stop_run(self.storage_id))

    @overload
    async def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: Literal[True] = True,
        stream: Stream = "default",
    ) -> pd.DataFrame: ...

    @overload
    async def history(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        pandas: Literal[False],
        stream: Stream = "default",
    ) -> list[dict[str, Any]]: ...

    @overload
    async def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        pandas: Literal[False],
        stream: Stream = "default",
    ) -> list[dict[str, Any]]: ...

    @overload
    async def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: Stream = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]: ...

    async def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: Stream = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """As ``Run.history``, awaited."""
        flow = self._rows_flow(samples, keys, x_axis, stream)  # checks first
        rows = await arun(self.client, flow)
        return history_frame(rows, pandas)

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """As ``Run.scan_history``: ``async for row in run.scan_history()``.

        Raises:
            InvalidArgumentError: a bad argument, here, before any request.
        """
        check_scan_args(keys, page_size, min_step, max_step)
        steps = self._scan_steps(keys, page_size, min_step or 0, max_step)
        return aiterate(self.client, steps)


class AsyncRuns(RunsCore[AsyncRun, AsyncSweep], AsyncRunsHistories):
    """An async, lazily paged collection of a project's runs (see ``Runs``)."""

    def __init__(
        self,
        client: AsyncRetryingClient,
        entity: str,
        project: str,
        filters: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> None:
        super().__init__(
            client, entity, project, filters, order, per_page, include_sweeps
        )
        self.client: AsyncRetryingClient = client

    def _make_run(self, fields: RunFields, sweep: AsyncSweep | None) -> AsyncRun:
        return AsyncRun(self.client, self.entity, self.project, fields, sweep=sweep)

    def _make_sweep(self, fields: SweepFields) -> AsyncSweep:
        return AsyncSweep(fields, self.entity, self.project, self.client)

    async def _aload_through(self, position: int | None) -> None:
        """Load pages until ``position`` is held; None loads every page."""
        await arun(self.client, self._through_flow(position))

    async def count(self) -> int:
        """The number of runs matching the filters (the server's ``runCount``;
        one request at most, none once every page is held)."""
        return await arun(self.client, self._count_flow())

    @overload
    async def get(self, index: int) -> AsyncRun: ...

    @overload
    async def get(self, index: slice) -> list[AsyncRun]: ...

    async def get(self, index: int | slice) -> AsyncRun | list[AsyncRun]:
        """A run by position (negative counts from the end), or a list for a
        slice (``get(slice(10, 20))``); loads only the pages needed."""
        return await arun(self.client, self._item_flow(index))

    async def __aiter__(self) -> AsyncIterator[AsyncRun]:
        """Every run, in order, pages loaded as the loop reaches them; each
        ``async for`` starts from the first run (loaded pages are reused)."""
        position = 0
        while True:
            await self._aload_through(position)
            if position >= len(self.objects):
                return
            yield self.objects[position]
            position += 1

    def __repr__(self) -> str:
        return f"<AsyncRuns {self.entity}/{self.project}>"
