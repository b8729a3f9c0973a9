"""Against the copy, the official SDK and our client return what they return
against the source."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runs_client
from runs_mirror import mirror_project
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.mirror.conftest import Source

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEMO = "demo/mnist"
# The SDK versions compared, both installed by make test: wandb 0.18 (make
# sdk-venv) and 0.31 (make sdk31-venv). RUNS_SDK_PYTHONS (os.pathsep-separated)
# lists others instead.
SDK_PYTHONS = [
    Path(p)
    for p in os.environ.get(
        "RUNS_SDK_PYTHONS",
        os.pathsep.join(
            [
                os.environ.get(
                    "RUNS_SDK_PYTHON", str(ROOT / ".venv-sdk" / "bin" / "python")
                ),
                str(ROOT / ".venv-sdk31" / "bin" / "python"),
            ]
        ),
    ).split(os.pathsep)
    if p
]


@pytest.fixture(scope="module")
def copy_server(
    source: Source, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    db = tmp_path_factory.mktemp("copy") / "copy.db"
    with Store(db) as store, source.api() as api:
        mirror_project(api, DEMO, store)
    store = Store(db)
    user = store.users.by_name("demo")
    assert user is not None and user.api_key
    server = BackgroundServer(RunsServerApp(store)).start()
    yield server.url, user.api_key
    server.stop()
    store.close()


def _sdk_reads(python: Path, url: str, key: str) -> Any:
    env = {**os.environ, "WANDB_BASE_URL": url, "WANDB_API_KEY": key}
    env.update(WANDB_SILENT="true", WANDB_MODE="online")
    env.pop("WANDB_ENTITY", None)
    result = subprocess.run(
        [str(python), str(Path(__file__).with_name("sdk_reads.py")), DEMO],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("python", SDK_PYTHONS, ids=lambda p: p.parts[-3])
def test_official_sdk_reads_the_same(
    python: Path, source: Source, copy_server: tuple[str, str]
) -> None:
    if not python.exists():
        pytest.fail(f"{python} is missing: run make sdk-venv sdk31-venv")
    want = _sdk_reads(python, source.url, source.key)
    got = _sdk_reads(python, *copy_server)
    assert len(want["listing"]) > 100 and len(want) > 6
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def _client_reads(url: str, key: str | None) -> Any:
    out: dict[str, Any] = {}
    with runs_client.Api(api_key=key, base_url=url) as api:
        listed = api.runs(
            DEMO, filters={"config.lr": {"$gt": 0.01}}, order="-created_at"
        )
        out["listing"] = [run.id for run in listed]
        some = api.runs(DEMO, order="+summary_metrics.loss", per_page=7)[:7]
        for run in some:
            out[run.id] = (
                run.config,
                run.summary,
                run.system_metrics,
                run.tags,
                run.created_at,
                run.user,
                list(run.scan_history(page_size=200)),
            )
        frame = api.runs(DEMO).histories(samples=100_000, format="pandas")
        out["histories"] = frame.to_json(orient="split")
    return out


def test_our_client_reads_the_same(
    source: Source, copy_server: tuple[str, str]
) -> None:
    want = _client_reads(source.url, source.key)
    got = _client_reads(*copy_server)
    assert len(want["listing"]) > 10
    assert repr(got) == repr(want)
