"""What the README shows is what the code prints: each command of the tour
runs here and every line and figure shown must match (sizes within 3%, as a
library update may change a file by a few bytes); the Python snippet's output
too; the line to copy for the SDK is the one ``serve`` prints; and the
benchmark figures sit in blocks ``make bench`` rewrites."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from runs_cli.demo import DEMO_COMMANDS
from runs_server.command import key_lines
from tests.cli.conftest import clean_env, run_in_process
from tests.server.conftest import Live

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SIZE = re.compile(r"\((\d+(?:\.\d+)?) (B|KB|MB|GB)\)")


def _block_after(heading: str, fence: str) -> str:
    start = README.index(heading)
    opened = README.index(f"```{fence}\n", start) + len(fence) + 4
    return README[opened : README.index("```", opened)]


def _tour() -> list[tuple[str, list[str]]]:
    """The tour's ``$ command`` lines, each with the output lines shown."""
    shown: list[tuple[str, list[str]]] = []
    for line in _block_after("### What `make demo` does", "text").splitlines():
        if line.startswith("$ "):
            shown.append((line[2:], []))
        elif line.strip() and shown:
            shown[-1][1].append(line)
    return shown


def _same_line(got: str, want: str) -> bool:
    """Equal, except that sizes may differ by 3%."""
    if SIZE.sub("", got) != SIZE.sub("", want):
        return False
    units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    sizes = [
        [float(n) * units[u] for n, u in SIZE.findall(text)] for text in (got, want)
    ]
    return all(abs(g - w) <= 0.03 * w for g, w in zip(*sizes, strict=True))


def test_the_tour_shows_the_demos_commands() -> None:
    assert [command for command, _ in _tour()] == [
        line.format(out="demo-output") for line in DEMO_COMMANDS
    ]


@pytest.mark.parametrize("index", range(len(DEMO_COMMANDS)))
def test_each_tour_command_prints_what_the_readme_shows(
    live: Live, tmp_path: Path, index: int
) -> None:
    command, shown = _tour()[index]
    (tmp_path / "demo-output").mkdir()
    done = run_in_process(*shlex.split(command)[1:], url=live.url, cwd=tmp_path)
    assert done.code == 0, done.err
    got = [line.rstrip() for line in done.out.splitlines() if line.strip()]
    if shown[-1] == "...":  # the README cuts a long table
        shown = shown[:-1]
        got = got[: len(shown)]
    assert len(got) == len(shown), (got, shown)
    for g, w in zip(got, shown, strict=True):
        assert _same_line(g, w.rstrip()), (g, w)


def test_the_python_snippet_prints_what_the_readme_shows(live: Live) -> None:
    code = _block_after("### The typed API", "python")
    assert '"http://127.0.0.1:8080"' in code
    code = code.replace('"http://127.0.0.1:8080"', repr(live.url))
    shown = README.index("```text\n", README.index(code.splitlines()[-1][:40]))
    want = README[shown + 8 : README.index("```", shown + 8)]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean_env(), "COLUMNS": "80"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == want


def test_the_line_to_copy_is_what_serve_prints(live: Live) -> None:
    shown = [line for line in README.splitlines() if line.startswith("export WANDB_")]
    url = "http://127.0.0.1:8080"
    for require_auth in (False, True):
        printed = key_lines(url, require_auth, live.demo_key)[-1].strip()
        assert shown == [printed]
    assert len(live.demo_key) >= 40


def test_bench_figures_sit_in_blocks_make_bench_writes() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from histories_speed import Result, readme_table
        from readme_figures import READMES, block_text, replace_block
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for path in READMES:
        document = path.read_text(encoding="utf-8")
        for name in ("histories", "mirror"):
            assert block_text(document, name), (path, name)
        table = block_text(document, "histories")
        assert table is not None
        made = readme_table([Result("x", 2.0, 1.0, row="case | 1 s | 2 s")])
        assert table.splitlines()[:2] == made.splitlines()[:2]  # the same header
        assert made.splitlines()[2] == "| case | 1 s | 2 s | 2x | 1x |"
    changed = replace_block(
        "a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\nb", "x", "new"
    )
    assert changed == "a\n<!-- bench:x -->\nnew\n<!-- /bench:x -->\nb"
    with pytest.raises(ValueError, match="no <!-- bench:y -->"):
        replace_block(changed, "y", "z")
    assert os.path.exists(ROOT / "benchmarks" / "readme_figures.py")


def test_the_loading_example_loads_as_the_readme_says() -> None:
    """The JSON Lines example loads, and its run keeps its given summary
    (0.2) though a later history line logs loss 0.1."""
    import json

    from runs_server.loaders.jsonl import load_lines
    from runs_server.store import Store

    lines = _block_after("### Loading your own runs", "json").splitlines()
    with Store() as store:
        assert load_lines(store, lines) == {
            "project": 1, "run": 1, "history": 1, "events": 1,
        }  # fmt: skip
        summary = store.conn.execute("SELECT summary_metrics FROM runs").fetchone()[0]
        steps = store.conn.execute("SELECT count(*) FROM history").fetchone()[0]
    assert json.loads(summary) == {"loss": 0.2} and steps == 3
