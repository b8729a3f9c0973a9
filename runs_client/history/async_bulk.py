"""``BulkFetcher``'s pages on an event loop: the same page flows (requests,
halving on refusal, cursor guard, the per-run fallback's reads) as the
thread-pool scheduler in ``bulk``, awaited as tasks instead.

Only the scheduling differs: pages by name go up to ``max_in_flight`` at
once; the pages after the cursor launch the next request as soon as a body
says where it starts. Tasks still running when the caller stops (or is
cancelled) are cancelled and awaited, so no request outlives the loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from .._exceptions import GraphQLError
from ..transport.flows import arun
from .bulk import _PER_RUN_CLIENTS, BulkFetcher
from .name_pages import AheadWindow
from .names_plan import names_guard, planned
from .pages import Page, Position
from .policy import refuses_bulk

__all__ = ["apages"]


async def apages(
    fetcher: BulkFetcher, start: Position
) -> AsyncIterator[tuple[Page, Position]]:
    """Pages in collection order, each with the position after it."""
    if fetcher.client in _PER_RUN_CLIENTS:
        async for item in _per_run_pages(fetcher, start):
            yield item
        return
    tasks: set[asyncio.Task[Page]] = set()
    guard = names_guard(fetcher)
    position = start
    try:
        while True:  # a plan past the server's cap ends at a cursor
            plan = await arun(fetcher.client, planned(fetcher, position, guard))
            partial = plan.more and len(plan.names) > len(position.names)
            async for page, position in _pipelined(fetcher, plan, tasks, not partial):
                yield page, position
            if not partial:
                return
    except GraphQLError as exc:
        if not refuses_bulk(exc):
            raise
        fetcher._remember_refusal(exc)
        async for item in _per_run_pages(fetcher, position):
            yield item
    finally:
        # A task ending meanwhile may launch the next page: cancel until none
        # is left (at most one launch per page, so this ends).
        while tasks:
            pending = list(tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _pipelined(
    fetcher: BulkFetcher,
    start: Position,
    tasks: set[asyncio.Task[Page]],
    by_cursor: bool = True,
) -> AsyncIterator[tuple[Page, Position]]:
    client, bound = fetcher.client, fetcher.max_in_flight

    def spawn(flow_page: asyncio.Task[Page]) -> asyncio.Task[Page]:
        tasks.add(flow_page)
        flow_page.add_done_callback(tasks.discard)
        return flow_page

    names = list(start.names)
    size = fetcher.page_size
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    # As the thread scheduler: the next page is asked as soon as a request
    # ends; at most ``bound`` at once, twice that asked and not yet taken.
    window = AheadWindow(
        len(chunks),
        bound,
        lambda i: spawn(
            asyncio.ensure_future(arun(client, fetcher._by_names(chunks[i])))
        ),
    )
    for i in range(len(chunks)):
        page = await window.next()
        rest = tuple(n for c in chunks[i + 1 :] for n in c)
        yield page, Position(rest, start.cursor, start.more)
    if not start.more or not by_cursor:
        return
    queued: deque[asyncio.Task[Page]] = deque()
    due: list[str | None] = []  # a next cursor held back by the bound

    def launch(cursor: str | None) -> None:
        flow = fetcher._after(cursor, on_next)
        queued.append(spawn(asyncio.ensure_future(arun(client, flow))))

    def on_next(cursor: str | None) -> None:
        if len(queued) < bound:
            launch(cursor)
        else:
            due.append(cursor)

    launch(start.cursor)
    while True:
        if not queued and due:
            launch(due.pop())
        if not queued:
            return
        page = await queued.popleft()
        if due and len(queued) < bound:
            launch(due.pop())
        yield page, Position((), page.end_cursor, page.has_next)


async def _per_run_pages(
    fetcher: BulkFetcher, start: Position
) -> AsyncIterator[tuple[Page, Position]]:
    client = fetcher.client
    names = list(start.names)
    if start.more:
        names.extend(await arun(client, fetcher._list_names(start.cursor)))
    size = fetcher.page_size
    gate = asyncio.Semaphore(fetcher.max_in_flight)

    async def one(name: str) -> list[dict[str, object]]:
        async with gate:
            return await arun(client, fetcher._one_run(name))

    for begin in range(0, len(names), size):
        chunk = names[begin : begin + size]
        done = await asyncio.gather(*(one(name) for name in chunk))
        page = Page.of(list(zip(chunk, done, strict=True)), fetcher.query.order_by)
        page.requests = len(chunk)
        yield page, Position(tuple(names[begin + size :]))
