"""``serve`` (flags shared with ``python -m runs_server``), ``load``,
``schema-check`` and ``demo``, each as users start them.

``serve`` and ``demo`` run as processes of the installed command (their
lifecycle and signals are the point); the short commands talking to them run
in this process (see ``run_in_process``).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import pytest

from tests.cli.conftest import RUNS_CLIENT, clean_env, run_cli, run_in_process
from tests.server.conftest import Live

pytestmark = pytest.mark.e2e


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """``runs-client serve --port 0 ARGS``; yields its URL and banner lines."""
    process = subprocess.Popen(
        [RUNS_CLIENT, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        text, lines = "", list[str]()
        deadline = time.monotonic() + 60
        # The banner ends with the line to copy (export WANDB_BASE_URL=...).
        while not any(
            line.startswith("  export ") and line.endswith("\n") for line in lines
        ):
            left = deadline - time.monotonic()
            if left <= 0 or process.poll() is not None:
                raise AssertionError("no banner: " + text)
            if select.select([fd], [], [], min(left, 1.0))[0]:
                text += os.read(fd, 65536).decode()
                lines = text.splitlines(keepends=True)
        url = lines[0].split("listening on ")[1].split()[0]
        yield url, lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


LINES = [
    {"type": "project", "entity": "me", "name": "mine"},
    {
        "type": "run",
        "project": "me/mine",
        "name": "r1",
        "config": {"lr": 0.5},
        "history": [{"_step": 0, "loss": 2.0}, {"_step": 1, "loss": 1.0}],
    },
]


def test_load_then_serve_the_db(tmp_path: Path) -> None:
    source = tmp_path / "runs.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    db = tmp_path / "mine.db"
    done = run_in_process("load", str(source), "--db", str(db))
    assert done.code == 0, done.err
    assert done.out.strip() == f"loaded 1 project, 1 run from {source} into {db}"
    with serving("--db", str(db)) as (url, _):
        table = run_in_process("runs", "me/mine", "--format", "json", url=url)
    assert [(r["id"], r["config.lr"]) for r in json.loads(table.out)] == [("r1", 0.5)]


def test_serve_load_and_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "runs.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    with serving("--load", str(source)) as (url, lines):
        assert f"loaded 1 project, 1 run from {source}\n" in lines
        done = run_in_process(
            "histories", "me/mine", "-o", str(tmp_path / "h.jsonl"), url=url
        )
        assert done.code == 0, done.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(LINES[0]) + "\n{not json\n")
    done = run_in_process("load", str(bad), "--db", str(tmp_path / "b.db"))
    assert done.code == 2
    assert done.err.startswith(f"runs-client load: error: {bad}: line 2:")
    missing = run_in_process("load", str(tmp_path / "none.jsonl"), "--db", "x.db")
    assert missing.code == 2 and "does not exist" in missing.err


def test_schema_check_passes_against_runs_server(live: Live) -> None:
    done = run_in_process("schema-check", url=live.url)
    assert done.code == 0, done.out + done.err
    assert "operations and fragments the client sends fit the schema" in done.out


def test_schema_check_does_not_need_runs_servers_own_fields() -> None:
    """W&B has no Project.runKeys (the client asks it only for a hint and
    skips it when refused): schema-check against W&B must not fail on it."""
    from graphql import build_schema

    from runs_cli.schema_check import check_schema

    sdl = (files("runs_gql") / "graphql" / "schema.graphql").read_text("utf-8")
    field = re.search(r'\n  "runs_server only: [^\n]*\n  runKeys: RunKeys\n', sdl)
    assert field is not None
    without = build_schema(sdl.replace(field[0], "\n"))
    assert "runKeys" not in str(without.type_map["Project"].fields)
    assert check_schema(without) == []


def altered_schema(tmp_path: Path, old: str, new: str) -> Path:
    sdl = (files("runs_gql") / "graphql" / "schema.graphql").read_text("utf-8")
    assert old in sdl
    path = tmp_path / "altered.graphql"
    path.write_text(sdl.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (
            "historyLineCount: Int",
            "historyLineCount: String",
            "Run.historyLineCount: the client expects Int, the server serves String",
        ),
        (
            "    first: Int\n    order: String",
            "    first: String\n    order: String",
            "Project.runs(first:): the client sends Int, the server takes String",
        ),
    ],
)
def test_schema_check_names_what_changed(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    with serving("--schema", str(altered_schema(tmp_path, old, new))) as (url, lines):
        assert any("serving the schema in" in line for line in lines)
        done = run_in_process("schema-check", url=url)
    assert done.code == 1
    assert any(line.startswith(named) for line in done.out.splitlines()), done.out


def test_demo_writes_outputs_and_stops_its_server(tmp_path: Path) -> None:
    done = run_cli("demo", cwd=tmp_path)
    assert done.code == 0, done.err
    pid = int(re.search(r"started the demo server \(pid (\d+)\)", done.out)[1])  # type: ignore[index]
    assert f"stopped the demo server (pid {pid})" in done.out
    assert not alive(pid)
    out = tmp_path / "demo-output"
    assert f"the outputs are in {out}" in done.out
    for name in ("runs.csv", "histories.parquet", "loss.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_stops_its_server_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [RUNS_CLIENT, "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert process.stdout is not None
    pid = None
    for line in process.stdout:
        if m := re.search(r"started the demo server \(pid (\d+)\)", line):
            pid = int(m[1])
        if "demo server at" in line:
            break
    assert pid is not None and alive(pid)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"stopped the demo server (pid {pid})" in out
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def test_serve_help_lists_the_shared_flags() -> None:
    done = run_in_process("serve", "--help")
    assert done.code == 0
    for flag in ("--demo", "--schema", "--load", "--require-auth", "--fault-429"):
        assert flag in done.out
    assert done.out.startswith("usage: runs-client serve")
    # Its defaults, as the other commands show theirs.
    flat = " ".join(done.out.split())
    for default in ("127.0.0.1", "8080", "warning"):
        assert f"(default: {default})" in flat
    assert "(default: None)" not in flat and "(default: False)" not in flat
    version = run_in_process("serve", "-V")
    assert version.code == 0 and version.out.startswith("runs-client ")


SDK31_PYTHON = Path(__file__).resolve().parents[2] / ".venv-sdk31" / "bin" / "python"
SDK31_LISTS = (
    "import wandb; api = wandb.Api(); "
    "print(len(api.runs('demo/mnist', filters={'state': 'finished'})))"
)


def _exported(lines: list[str]) -> dict[str, str]:
    """The banner's one line to copy, as the environment it sets."""
    line = next(line for line in lines if line.startswith("  export "))
    return dict(part.split("=", 1) for part in line.split()[1:])


@pytest.mark.parametrize("mode", [(), ("--require-auth",)], ids=["open", "auth"])
def test_serve_prints_a_key_the_sdk_031_accepts(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """In both modes the banner gives one line to copy (base URL and a key of
    40+ characters, which 0.31 demands); the official SDK 0.31 and the CLI
    both work with it as it is."""
    if not SDK31_PYTHON.exists():
        pytest.fail(
            f"{SDK31_PYTHON} is missing: run `make sdk31-venv` (make test does)"
        )
    with serving("--demo", *mode) as (url, lines):
        env = _exported(lines)
        assert env["WANDB_BASE_URL"] == url
        assert len(env["WANDB_API_KEY"]) >= 40
        home = tmp_path / "home"
        sdk = subprocess.run(
            [str(SDK31_PYTHON), "-c", SDK31_LISTS],
            env={**clean_env(**env), "HOME": str(home), "WANDB_SILENT": "true",
                 "WANDB_DIR": str(home), "WANDB_CONFIG_DIR": str(home / "config"),
                 "WANDB_CACHE_DIR": str(home / "cache")},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert sdk.returncode == 0, sdk.stderr[-2000:]
        cli = run_in_process(
            "runs", "demo/mnist", "--api-key", env["WANDB_API_KEY"], "--limit", "1",
            url=url,
        )  # fmt: skip
        assert cli.code == 0, cli.err
        if mode:  # a refused key: the hint once, in the CLI's terms
            wrong = run_in_process("runs", "demo/mnist", "--api-key", "x" * 40, url=url)
            assert wrong.code == 1
            assert "refused the API key" in wrong.err
            assert wrong.err.count("WANDB_API_KEY") == 1, wrong.err
            assert "--api-key" in wrong.err and "api_key=" not in wrong.err
    assert int(sdk.stdout.split()[-1]) > 0


def test_an_open_server_without_the_demo_prints_a_usable_key() -> None:
    from runs_server.command import OPEN_API_KEY

    with serving() as (url, lines):
        assert _exported(lines) == {
            "WANDB_BASE_URL": url,
            "WANDB_API_KEY": OPEN_API_KEY,
        }
    assert len(OPEN_API_KEY) >= 40 and OPEN_API_KEY.replace("_", "").isalnum()
