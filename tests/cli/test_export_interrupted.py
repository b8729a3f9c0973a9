"""``runs-client histories -o FILE`` stopped part-way leaves nothing under FILE.

The export writes aside and renames when complete; Ctrl-C (a
KeyboardInterrupt injected after N pages) or a page that fails keeps the
pages written under ``FILE.partial.*`` and prints the resume token, and
``--after TOKEN`` fetches exactly the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from runs_cli.aside import partial_name
from runs_client import IncompleteHistoriesError, Runs, ServerError
from tests.cli.test_histories_export import expected_rows
from tests.server.conftest import Live

pytestmark = pytest.mark.e2e

DEMO = "demo/mnist"
PAGE = ["--per-page", "40", "--samples", "20", "--keys", "loss"]


def _stop_after(
    monkeypatch: pytest.MonkeyPatch, pages: int, stop: Callable[[], BaseException]
) -> list[Any]:
    """``Runs.iter_histories`` yields ``pages`` batches, then raises ``stop()``."""
    real = Runs.iter_histories
    yielded: list[Any] = []

    def stopping(self: Runs, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with closing(real(self, *args, **kwargs)) as batches:  # type: ignore[call-overload]
            for batch in batches:
                if len(yielded) == pages:
                    raise stop()
                yielded.append(batch)
                yield batch

    monkeypatch.setattr(Runs, "iter_histories", stopping)
    return yielded


def _read(path: Path, kind: str) -> list[dict[str, Any]]:
    if kind == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if kind == "csv":
        return pacsv.read_csv(path).to_pylist()  # type: ignore[no-any-return]
    return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]


OUTPUTS = [
    ("parquet", "h.parquet"),
    ("csv", "h.csv"),
    ("jsonl", "h.jsonl"),
    ("folder", "dataset"),
]


@pytest.mark.parametrize(("kind", "name"), OUTPUTS)
def test_ctrl_c_keeps_only_a_partial_file_and_the_token_goes_on(
    cli: Any,
    live: Live,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    name: str,
) -> None:
    out = tmp_path / name
    target = f"{out}/" if kind == "folder" else str(out)
    yielded = _stop_after(monkeypatch, 3, KeyboardInterrupt)
    done = cli("histories", DEMO, *PAGE, "-o", target)
    assert done.code == 130, done.err
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert "interrupted" in done.err and "--after " in done.err
    assert not out.exists()  # nothing under the name asked for
    partial = partial_name(out, kind == "folder")
    assert str(partial) in done.err
    token = done.err.split("--after ")[1].split()[0]
    # A long token is saved beside the partial output (--after @FILE).
    saved = [partial.name + ".token"] if token.startswith("@") else []
    assert sorted(p.name for p in tmp_path.iterdir()) == [partial.name, *saved]
    kept = _read(partial, kind)
    assert len(kept) == sum(batch.num_rows for batch in yielded)
    assert {r["run_id"] for r in kept} <= {
        run for batch in yielded for run in batch.run_ids
    }

    monkeypatch.undo()
    rest_out = tmp_path / f"rest-{name}"
    rest_target = f"{rest_out}/" if kind == "folder" else str(rest_out)
    rest = cli("histories", DEMO, *PAGE, "--after", token, "-o", rest_target)
    assert rest.code == 0, rest.err
    got = kept + _read(rest_out, kind)
    want = expected_rows(live, DEMO, samples=20, keys=["loss"])
    assert [r["run_id"] for r in got] == [r["run_id"] for r in want]


def test_a_failed_page_keeps_a_partial_file_and_says_why(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failed() -> BaseException:
        return IncompleteHistoriesError(
            "page 3 failed: the server answered 503.",
            completed_run_ids=[],
            resume_token="unused",
            cause=ServerError("503"),
        )

    _stop_after(monkeypatch, 2, failed)
    out = tmp_path / "h.parquet"
    done = cli("histories", DEMO, *PAGE, "-o", str(out))
    assert done.code == 1
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert "page 3 failed" in done.err and "--after " in done.err
    assert not out.exists() and partial_name(out, False).exists()


def test_ctrl_c_before_any_page_leaves_nothing(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stop_after(monkeypatch, 0, KeyboardInterrupt)
    done = cli("histories", DEMO, *PAGE, "-o", str(tmp_path / "h.parquet"))
    assert done.code == 130 and "interrupted" in done.err
    assert list(tmp_path.iterdir()) == []


def test_a_complete_export_leaves_no_aside(cli: Any, tmp_path: Path) -> None:
    existing = tmp_path / "dataset"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    for target in ("h.parquet", "h.jsonl", "dataset/"):
        done = cli("histories", DEMO, *PAGE, "-o", str(tmp_path / target))
        assert done.code == 0, done.err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dataset", "h.jsonl", "h.parquet"]
    assert (existing / "notes.txt").read_text() == "mine"
    assert len(list(existing.glob("part-*.parquet"))) == 8
