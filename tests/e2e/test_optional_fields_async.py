"""``AsyncApi`` against a W&B that lacks a weakly evidenced Run field (issue
18): the drop-and-resend lives in the shared attempt logic, so the async
client leaves the field out, reads it as null and remembers it, as ``Api``
does (tests/e2e/test_optional_fields.py), and reads history by keys from
full history on a server without ``sampledHistory``."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest

import runs_client
from tests.e2e.test_optional_fields import KEY, PATH, Counted, _serving_without


@pytest.fixture(scope="module")
def without_host() -> Iterator[str]:
    with _serving_without("host") as url:
        yield url


@pytest.fixture(scope="module")
def without_sampled_history() -> Iterator[str]:
    with _serving_without("sampledHistory") as url:
        yield url


def _api(url: str) -> tuple[runs_client.AsyncApi, Counted]:
    api = runs_client.AsyncApi(api_key=KEY, base_url=url)
    counted = Counted()

    async def on_request(request: object) -> None:
        counted.request(request)  # type: ignore[arg-type]

    async def on_response(response: object) -> None:
        await response.aread()  # type: ignore[attr-defined]
        counted.response(response)  # type: ignore[arg-type]

    hooks = api.client.http_client.event_hooks
    hooks["request"] = [*hooks.get("request", []), on_request]
    hooks["response"] = [*hooks.get("response", []), on_response]
    api.client.http_client.event_hooks = hooks
    return api, counted


def test_async_listing_reads_a_missing_field_as_null(without_host: str) -> None:
    async def main() -> None:
        api, counted = _api(without_host)
        async with api:
            runs = await api.runs(PATH, per_page=2, include_sweeps=False).get(
                slice(None)
            )
            one = await api.run(f"{PATH}/run1")
        assert [r.id for r in runs] == ["run0", "run1", "run2"]
        assert [r.host for r in runs] + [one.host] == [None] * 4
        assert counted.refused == 1  # learned once, left out after
        assert counted.operations.count("RunsPage") == 3
        assert api.client.optional_fields.missing == {"host"}

    asyncio.run(main())


def test_async_history_by_keys_reads_full_history_instead(
    without_sampled_history: str,
) -> None:
    async def main() -> None:
        api, _ = _api(without_sampled_history)
        async with api:
            run = await api.run(f"{PATH}/run1")
            rows = await run.history(keys=["loss"], samples=3, pandas=False)
            assert [r["_step"] for r in rows] == [0, 2, 4]
            assert all(set(r) == {"_step", "loss"} for r in rows)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", runs_client.BulkHistoryWarning)
                frame = await api.runs(PATH).histories(
                    samples=10, keys=["loss"], format="pandas"
                )
        assert len(frame) == 15
        assert sorted(set(frame["run_id"])) == ["run0", "run1", "run2"]

    asyncio.run(main())
