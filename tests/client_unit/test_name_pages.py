"""Pages by name are asked as soon as a request ends, within two bounds: at
most ``max_in_flight`` requests at once, at most twice that many pages asked
and not yet taken (``history.name_pages.pages_by_name``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

from runs_client.history.name_pages import pages_by_name
from runs_client.history.pages import Page, Position

WAIT_S = 10.0


class Client:
    """Answers the ``fetch`` of a page when the test releases its name."""

    def __init__(self, names: list[str]) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0
        self.asked: list[str] = []
        self.ends = {name: threading.Event() for name in names}

    def release(self, *names: str) -> None:
        for name in names:
            self.ends[name].set()

    def fetch(self, names: list[str]) -> Page:
        with self.lock:
            self.asked.append(names[0])
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        assert self.ends[names[0]].wait(WAIT_S), f"{names[0]} never released"
        with self.lock:
            self.running -= 1
        return Page(list(names), [1] * len(names), [])


class Fetcher:
    def __init__(self, client: Client, max_in_flight: int) -> None:
        self.client = client
        self.max_in_flight = max_in_flight

    def _by_names(self, names: list[str]) -> Iterator[Any]:
        from runs_client.transport.flows import call

        page = yield call("fetch", names)
        return page


def wait_until(check: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_next_page_is_asked_when_a_request_ends_not_when_one_is_taken() -> None:
    names = [f"r{i}" for i in range(8)]
    client = Client(names)
    chunks = [[name] for name in names]
    with ThreadPoolExecutor(2) as pool:
        pages = pages_by_name(Fetcher(client, 2), pool, chunks, Position(()))
        taken: list[tuple[Page, Position]] = []
        taker = threading.Thread(target=lambda: taken.append(next(pages)))
        taker.start()
        wait_until(lambda: len(client.asked) == 2)  # two at once
        time.sleep(0.1)
        assert sorted(client.asked) == ["r0", "r1"]  # two threads: either first
        client.release("r0", "r1")  # both end; the caller takes one
        # Two more are asked without the caller taking anything more: four
        # asked and not taken (r1, r2, r3 and the one taken counts no more)
        wait_until(lambda: len(client.asked) == 4)
        taker.join(WAIT_S)
        assert [p.run_ids for p, _ in taken] == [["r0"]]
        client.release("r2", "r3")
        # r1, r2, r3 wait for the caller: one more may be asked, no more.
        wait_until(lambda: len(client.asked) == 5)
        time.sleep(0.2)
        assert sorted(client.asked) == ["r0", "r1", "r2", "r3", "r4"]
        client.release(*names)
        rest = list(pages)
        assert [p.run_ids[0] for p, _ in rest] == names[1:]
        assert [pos.names for _, pos in rest][-2:] == [("r7",), ()]
        assert client.most_running <= 2


class LateCallbacks:
    """A pool whose futures are done when submitted but whose done callbacks
    run only when the test says: the window in which a worker thread has set
    a result the caller can take while the future's callbacks have not run."""

    def __init__(self) -> None:
        self.pending: list[Any] = []
        self.submitted = 0

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        self.submitted += 1
        assert self.submitted <= 100, "unbounded submits"
        pending = self.pending

        class Late(Future[Any]):
            def add_done_callback(self, fn: Any) -> None:
                pending.append((fn, self))

        future = Late()
        future.set_result(fn(*args))
        return future


class Instant:
    def fetch(self, names: list[str]) -> Page:
        return Page(list(names), [1] * len(names), [])


def test_a_page_taken_before_its_callback_ran_no_longer_counts_as_running() -> None:
    names = [f"r{i}" for i in range(5)]
    pool = LateCallbacks()
    fetcher = Fetcher(Instant(), 1)  # type: ignore[arg-type]
    pages = pages_by_name(fetcher, cast(Any, pool), [[n] for n in names], Position(()))
    got = [page.run_ids[0] for page, _ in pages]  # no callback has run
    assert got == names
    assert pool.submitted == 5
    for callback, future in pool.pending:  # late callbacks ask nothing more
        callback(future)
    assert pool.submitted == 5
