"""``runs-client stop`` (``Run.stop()``) stops a run SDK 0.31 is logging: the
SDK reads ``"stopped": true`` in its next file_stream reply and interrupts
the script; the run ends ``killed``. (SDK 0.18 polls ``RunStoppedStatus``
instead; tests/server/test_writes_http.py checks it turns true.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import runs_client
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.sdk_compat.test_sdk_writes import KEY, SDKS, sdk_env

SCRIPT = Path(__file__).with_name("sdk_stop_workflow.py")


def test_stop_interrupts_the_logging_script(tmp_path: Path) -> None:
    python = SDKS["0.31"]
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make sdk31-venv` (make test does)")
    store = Store()
    store.users.create("ada", api_key=KEY)
    with BackgroundServer(RunsServerApp(store)) as server:
        sdk = subprocess.Popen(
            [str(python), str(SCRIPT)],
            env=sdk_env(tmp_path, server.url, "0.31"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert sdk.stdout is not None
            assert sdk.stdout.readline().strip() == "started"  # the run exists
            with runs_client.Api(api_key=KEY, base_url=server.url) as api:
                api.run("ada/stopping/stoppable").stop()
            out, err = sdk.communicate(timeout=90)
        finally:
            if sdk.poll() is None:
                sdk.kill()
                sdk.wait(timeout=10)
        # interrupted inside its minute of logging, not after it
        assert "stopped" in out.split() and "not stopped" not in out, err[-3000:]
    row = store.conn.execute("SELECT state FROM runs WHERE name='stoppable'").fetchone()
    assert tuple(row) == ("killed",)
    store.close()
