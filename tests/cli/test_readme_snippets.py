"""Every fenced block of the README runs in a test: the tour, the typed API
snippet, the line to copy and the loading example in ``test_readme.py``; the
others here, with only their placeholders (``my-team/my-project``, port 8080,
``YOUR_KEY``, api.wandb.ai) swapped for the test server's. A new block fails
``test_every_block_is_run`` until a test runs it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runs_client import Api
from tests.cli.conftest import clean_env, run_in_process
from tests.cli.test_server_commands import serving
from tests.server.conftest import Live

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
WHEN = r"2024-\d\d-\d\d \d\d:\d\d:\d\d\+00:00"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks() -> list[tuple[str, str, str]]:
    """Each fenced block as (heading above it, language, text)."""
    found = []
    for match in FENCE.finditer(README):
        headings = re.findall(r"^#+ (.+)$", README[: match.start()], re.M)
        found.append((headings[-1], match.group(1), match.group(2)))
    return found


def _block(heading: str, language: str, index: int = 0) -> str:
    texts = [t for h, lang, t in _blocks() if h == heading and lang == language]
    return texts[index]


# Every block, by (heading, language), with the test that runs it.
RUN_BY = {
    ("runs-client", "sh"): "test_the_make_targets_exist",
    ("runs-client", "sh", 1): "test_readme.test_the_line_to_copy_is_what_serve_prints",
    ("What `make demo` does", "text"): "test_readme.test_each_tour_command_...",
    ("The typed API", "sh"): "test_the_serve_line_serves_the_demo",
    ("The typed API", "python"): "test_readme.test_the_python_snippet_...",
    ("The typed API", "text"): "test_readme.test_the_python_snippet_...",
    ("Loading your own runs", "json"): "test_readme.test_the_loading_example_...",
    ("Fast histories", "python"): "test_the_histories_snippet_runs",
    ("Fast histories", "python", 1): "test_the_dataset_snippet_runs",
    ("Offline: mirror a project, then serve the copy", "sh"): "test_the_mirror_lines",
    ("Async", "python"): "test_the_async_snippet_runs",
    ("The generated client", "python"): "test_the_generated_client_snippet_runs",
    ("Regenerating after a schema or query change", "sh"): "test_the_make_targets",
}


def test_every_block_is_run() -> None:
    seen: dict[tuple[str, str], int] = {}
    for heading, language, _ in _blocks():
        count = seen.get((heading, language), 0)
        seen[(heading, language)] = count + 1
        key: tuple[Any, ...] = (heading, language) + ((count,) if count else ())
        assert key in RUN_BY, f"no test runs the README block {key}"
    assert len(_blocks()) == len(RUN_BY)


def test_the_make_targets_exist() -> None:
    """``make demo``, ``make test``, ``make generate`` and ``make
    check-generated`` are targets (the suite itself is ``make test``, and CI
    runs ``check-generated``; here a dry run checks each is defined)."""
    shown = _block("runs-client", "sh") + _block(
        "Regenerating after a schema or query change", "sh"
    )
    targets = re.findall(r"^make ([\w-]+)", shown, re.M)
    assert targets == ["demo", "test", "generate", "check-generated"]
    for target in targets:
        done = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (target, done.stderr)


def test_the_serve_line_serves_the_demo() -> None:
    (line,) = _block("The typed API", "sh").strip().splitlines()
    args = shlex.split(line)
    assert args[:2] == [".venv/bin/runs-client", "serve"]
    assert args[-2:] == ["--port", "8080"]  # a free port here instead
    with serving(*args[2:-2]) as (url, lines):
        shown = next(ln for ln in README.splitlines() if ln.startswith("export WANDB_"))
        printed = next(ln.strip() for ln in lines if ln.startswith("  export "))
        assert printed == shown.replace("http://127.0.0.1:8080", url)
        with Api(base_url=url) as api:
            assert len(api.runs("demo/mnist")) == 320


def test_the_histories_snippet_runs(live: Live) -> None:
    """``write`` gets every run's rows once, and a saved token resumes after
    its batch."""
    code = _block("Fast histories", "python")
    written: list[Any] = []
    saved: list[str] = []
    with Api(base_url=live.url) as api:
        runs = api.runs("demo/mnist", filters={"state": "finished"}, per_page=50)
        scope = {"runs": runs, "write": written.append, "save": saved.append}
        exec(compile(code, "README.md", "exec"), scope)
        frame = scope["frame"]
        assert {"loss", "val.acc", "run_id"} <= set(frame.columns)
        ids = {str(i) for batch in written for i in batch.column("run_id").to_pylist()}
        assert ids == set(frame["run_id"].to_list()) and len(ids) == 183
        assert len(saved) == len(written) >= 1
        for i, token in enumerate(saved):  # each token resumes after its batch
            rest = runs.iter_histories(format="arrow", union_schema=True, after=token)
            assert [b.data for b in rest] == written[i + 1 :]


def test_the_dataset_snippet_runs(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partitioned export writes one Parquet file per finished demo run
    under ``hist/run_id=<id>/``, whose rows are the run's sampled history."""
    import pyarrow.dataset as ds

    code = _block("Fast histories", "python", 1)
    with Api(base_url=live.url) as api:
        finished = api.runs("demo/mnist", filters={"state": "finished"}, per_page=50)
        monkeypatch.chdir(tmp_path)  # the snippet writes to hist/
        scope: dict[str, Any] = {"api": _ApiOn(api, finished)}
        exec(compile(code, "README.md", "exec"), scope)
        assert scope["done"].runs == 183
        expected = finished.histories(samples=1000, format="arrow")
    folders = sorted(p.name for p in (tmp_path / "hist").iterdir())
    ids = sorted(set(expected.column("run_id").to_pylist()))
    assert folders == [f"run_id={i}" for i in ids] and len(ids) == 183
    table = ds.dataset(
        tmp_path / "hist", format="parquet", partitioning="hive"
    ).to_table()
    assert table.num_rows == expected.num_rows


class _ApiOn:
    """``api.runs("team/proj")`` of the snippet, answered by the demo's
    finished runs (the snippet's placeholder project)."""

    def __init__(self, api: Api, runs: Any) -> None:
        self._api, self._runs = api, runs

    def runs(self, path: str) -> Any:
        assert path == "team/proj"
        return self._runs


def test_the_mirror_lines(live: Live, tmp_path: Path) -> None:
    """Mirror the demo, serve the copy, and the typed API snippet prints
    against the copy what the README shows for the original."""
    lines = [ln.split("#")[0].strip() for ln in _block(
        "Offline: mirror a project, then serve the copy", "sh"
    ).strip().splitlines()]  # fmt: skip
    mirror, serve, analysis = (shlex.split(line) for line in lines)
    assert mirror[:2] == ["runs-client", "mirror"] and mirror[2] == "my-team/my-project"
    done = run_in_process(
        *mirror[1:2], "demo/mnist", *mirror[3:], url=live.url, cwd=tmp_path
    )
    assert done.code == 0, done.err
    assert serve[:2] == ["runs-client", "serve"] and serve[-2:] == ["--port", "8080"]
    assert analysis == ["WANDB_BASE_URL=http://127.0.0.1:8080", "python", "analysis.py"]
    typed = _block("The typed API", "python")
    shown = _block("The typed API", "text")
    args = [str(tmp_path / a) if a == "copy.db" else a for a in serve[2:-2]]
    with serving(*args) as (url, _):
        script = tmp_path / "analysis.py"
        script.write_text(typed.replace("http://127.0.0.1:8080", url))
        ran = subprocess.run(
            [sys.executable, "analysis.py"], cwd=tmp_path, capture_output=True,
            text=True, timeout=120,
            env={**clean_env(WANDB_BASE_URL=url), "COLUMNS": "80"},
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == shown


def test_the_async_snippet_runs(live: Live) -> None:
    code = _block("Async", "python")
    assert code.count('"my-team/my-project"') == 1
    code = code.replace('"my-team/my-project"', '"demo/mnist"')
    code = code.replace('["a/x", "a/y"]', '["demo/mnist", "test/exact"]')
    code += "print('done')\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=clean_env(WANDB_BASE_URL=live.url),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "183\ndone\n"  # the finished runs: count() printed


def test_the_generated_client_snippet_runs(live: Live) -> None:
    code = _block("The generated client", "python")
    for placeholder, value in (
        ('"https://api.wandb.ai/graphql"', repr(live.graphql_url)),
        ('"YOUR_KEY"', repr(live.demo_key)),
        ('"my-team"', '"demo"'),
    ):
        assert placeholder in code
        code = code.replace(placeholder, value)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert len(printed) == 10
    for line in printed:  # name (the run id), state, a UTC datetime
        assert re.fullmatch(rf"[a-z0-9]{{8}} \w+ {WHEN}", line), line
