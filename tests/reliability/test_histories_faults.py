"""Issue 9, item 14 and the histories part of the fault tests: ``histories()``
over 300 runs through injected faults returns exactly what the store holds,
and a fetch that fails part-way raises ``IncompleteHistoriesError`` whose
resume token completes the set with nothing duplicated or lost.

Retry waits are recorded through the injected ``sleep``, never slept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import runs_client
from runs_client import IncompleteHistoriesError, ServerError
from runs_server.http.app import ServerConfig
from runs_server.http.faults import FaultConfig, FaultInjector
from runs_server.store import Store
from tests.reliability.conftest import TALLY
from tests.reliability.servers import BIG, OWNER_KEY, ROWS_PER_RUN, file_store, serving

pytestmark = pytest.mark.e2e

RUNS = 300
FIRST_300 = {"config.i": {"$lt": RUNS}}
Row = tuple[str, int, float]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("histories"))
    yield store
    store.close()


def store_rows(store: Store) -> Counter[Row]:
    """(run id, step, loss) of every history row of the first 300 runs, read
    directly from the store's tables."""
    rows = store.conn.execute(
        "SELECT runs.name, json_extract(history.row, '$._step'), "
        "json_extract(history.row, '$.loss') FROM history "
        "JOIN runs ON runs.id=history.run_id "
        "WHERE json_extract(runs.config, '$.i.value') < ?",
        (RUNS,),
    )
    return Counter((str(r[0]), int(r[1]), float(r[2])) for r in rows)


def as_rows(rows: list[dict[str, Any]]) -> Counter[Row]:
    return Counter((str(r["run_id"]), int(r["_step"]), float(r["loss"])) for r in rows)


def api_for(url: str, slept: list[float], **kwargs: Any) -> runs_client.Api:
    api = runs_client.Api(api_key=OWNER_KEY, base_url=url, **kwargs)
    api.client._sleep = slept.append
    return api


def test_histories_of_300_runs_through_faults_equal_the_store(store: Store) -> None:
    expected = store_rows(store)
    assert len({run for run, _, _ in expected}) == RUNS
    faults = FaultConfig(
        rate_429=0.1, rate_5xx=0.1, rate_drop=0.1, rate_truncate=0.1, seed=11
    )
    slept: list[float] = []
    with serving(store, ServerConfig(faults=faults)) as server:
        api = api_for(server.url, slept, max_retries=8)
        runs = api.runs(BIG, filters=FIRST_300, include_sweeps=False)
        # 30 runs per request: ten bulk pages, each a chance for a fault.
        rows = runs.histories(samples=ROWS_PER_RUN, rows_per_request=30 * ROWS_PER_RUN)
        api.close()
        injected = server.app.faults.injected
    TALLY["rows_checked"] += sum(expected.values())
    TALLY["rows_lost"] += sum((expected - as_rows(rows)).values())
    assert as_rows(rows) == expected  # every row once: none lost, none doubled
    assert injected and len(slept) >= injected  # faults happened and were waited out


def test_a_fetch_failing_part_way_resumes_from_its_token(store: Store) -> None:
    expected = store_rows(store)
    slept: list[float] = []
    got: list[dict[str, Any]] = []
    with serving(store) as server:
        api = api_for(server.url, slept, max_retries=2)
        runs = api.runs(BIG, filters=FIRST_300, include_sweeps=False)
        batches = runs.iter_histories(
            samples=ROWS_PER_RUN, rows_per_request=30 * ROWS_PER_RUN, progress=False
        )
        got.extend(next(batches).data)
        server.app.faults = FaultInjector(FaultConfig(rate_5xx=1.0))  # an outage
        with pytest.raises(IncompleteHistoriesError) as caught:
            for batch in batches:
                got.extend(batch.data)
        error = caught.value
        assert isinstance(error.cause, ServerError)
        assert set(error.completed_run_ids) == {r["run_id"] for r in got}
        server.app.faults = FaultInjector(FaultConfig())  # the outage ends
        for batch in runs.iter_histories(
            samples=ROWS_PER_RUN,
            rows_per_request=30 * ROWS_PER_RUN,
            after=error.resume_token,
            progress=False,
        ):
            got.extend(batch.data)
        api.close()
    TALLY["rows_checked"] += sum(expected.values())
    TALLY["rows_lost"] += sum((expected - as_rows(got)).values())
    assert as_rows(got) == expected
    assert len(slept) == 2  # the failed page's retries, then the error
