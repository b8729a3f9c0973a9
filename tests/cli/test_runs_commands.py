"""``runs-client runs`` and ``run``, and one-line messages for user mistakes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from runs_client import Api
from tests.cli.conftest import MIXED, run_cli, run_in_process
from tests.server.conftest import EXACT, TESTER_KEY, Live

pytestmark = pytest.mark.e2e


def test_runs_table_lists_the_runs(cli: Any) -> None:
    done = cli("runs", EXACT)
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith(f"{EXACT}: 3 runs")
    rows = [line for line in lines if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [c[:3] for c in cells] == [
        ["cadence", "Cadence", "finished"],
        ["empty", "empty", "running"],
        ["events", "events", "finished"],
    ]
    header = next(line for line in lines if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")][:4] == [
        "id",
        "name",
        "state",
        "created_at",
    ]


def test_runs_csv_matches_the_library(cli: Any, live: Live) -> None:
    done = cli("runs", "demo/mnist", "--where", "state=finished", "--format", "csv")
    assert done.code == 0, done.err
    rows = list(csv.DictReader(io.StringIO(done.out)))
    with Api(base_url=live.url) as api:
        want = [r.id for r in api.runs("demo/mnist", filters={"state": "finished"})]
    assert [r["id"] for r in rows] == want
    assert all(r["state"] == "finished" for r in rows)
    assert "config.optimizer.name" in rows[0] and "summary.loss" in rows[0]


def test_where_reads_json_then_text_and_orders(cli: Any, live: Live) -> None:
    with Api(base_url=live.url) as api:
        lr = api.runs("demo/mnist")[0].config["lr"]  # a value the data holds
        want = api.runs(
            "demo/mnist", filters={"config.lr": lr}, order="-summary_metrics.loss"
        )
        want_ids = [r.id for r in want]
    done = cli(
        "runs",
        "demo/mnist",
        "--where",
        f"lr={lr}",
        "--order",
        "-summary.loss",
        "--format",
        "json",
    )
    assert done.code == 0, done.err
    got = json.loads(done.out)
    assert [r["id"] for r in got] == want_ids
    assert {r["config.lr"] for r in got} == {lr}
    # As text, the same number matches nothing: comparisons never cross types.
    text = cli("runs", "demo/mnist", "--where", f'lr="{lr}"', "--format", "json")
    assert json.loads(text.out) == []


def test_columns_limit_and_shorthand(cli: Any) -> None:
    done = cli("runs", MIXED, "--columns", "lr,opt", "--limit", "2", "--format", "csv")
    assert done.code == 0, done.err
    rows = list(csv.DictReader(io.StringIO(done.out)))
    assert list(rows[0]) == [
        "id",
        "name",
        "state",
        "created_at",
        "config.lr",
        "config.opt",
    ]
    assert [(r["id"], r["config.opt"]) for r in rows] == [
        ("ints", "adam"),
        ("floats", "sgd"),
    ]


def test_columns_ask_only_those_keys_nested_or_bare(cli: Any) -> None:
    done = cli("runs", EXACT, "--columns", "model.layers,config.lr", "--format", "json")
    assert done.code == 0, done.err
    got = {r["id"]: r for r in json.loads(done.out)}
    assert list(got["cadence"]) == [
        "id",
        "name",
        "state",
        "created_at",
        "config.model.layers",
        "config.lr",
    ]
    assert (got["cadence"]["config.model.layers"], got["cadence"]["config.lr"]) == (
        3,
        0.1,
    )


def test_an_unknown_column_names_the_closest_keys(cli: Any) -> None:
    done = cli("runs", EXACT, "--columns", "lrr")
    assert done.code == 2
    assert "'lrr' is not a column of these runs (closest: lr" in done.err
    done = cli("runs", EXACT, "--columns", "config.nope")
    assert done.code == 2
    assert "'config.nope' is not a column of these runs (no key is close)" in done.err


def test_run_shows_fields_config_and_summary(cli: Any) -> None:
    done = cli("run", f"{EXACT}/cadence", "--format", "json")
    assert done.code == 0, done.err
    run = json.loads(done.out)
    assert (run["id"], run["name"], run["group"], run["tags"]) == (
        "cadence",
        "Cadence",
        "g",
        ["a", "b"],
    )
    assert run["config"] == {"lr": 0.1, "model": {"layers": 3}}
    table = cli("run", f"{EXACT}/cadence")
    assert table.code == 0
    assert "model.layers" in table.out and "Cadence" in table.out


MISTAKES = [
    # (arguments, exit code, words the one line must hold)
    (["runs", "nobody/nothing"], 1, "Project nobody/nothing not found"),
    (["runs", EXACT, "--filter", "{state: x"], 2, "--filter is not valid JSON"),
    (["runs", EXACT, "--filter", "[1]"], 2, "--filter must be a JSON object"),
    (["runs", EXACT, "--where", "nokey"], 2, "is not KEY=VALUE"),
    (["runs", EXACT, "--columns", "nosuch"], 2, "'nosuch' is not a column"),
    (["run", f"{EXACT}/nosuch"], 1, f"Run {EXACT}/nosuch not found"),
    (
        ["histories", EXACT, "--keys", "nosuch", "-o", "x.parquet"],
        2,
        "no run logged 'nosuch'",
    ),
    (["histories", EXACT, "-o", "out.xlsx"], 2, "unknown output type"),
    (["plot", EXACT, "--key", "nosuch", "-o", "p.png"], 2, "no run logged 'nosuch'"),
    (
        ["plot", EXACT, "--key", "loss", "--group-by", "zz", "-o", "p.png"],
        2,
        "'zz' is not a column",
    ),
    (["runs"], 2, "Missing argument 'ENTITY/PROJECT'"),
]


@pytest.mark.parametrize(("args", "code", "words"), MISTAKES)
def test_user_mistakes_give_one_line(
    cli: Any, tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    done = cli(*args, cwd=tmp_path)
    assert done.code == code, (done.out, done.err)
    assert words in done.err
    assert "Traceback" not in done.err
    message = [line for line in done.err.splitlines() if "rror" in line]
    assert len(message) == 1, done.err


def test_unwritable_output(cli: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = cli("histories", EXACT, "-o", str(blocker / "out.parquet"))
    assert done.code == 1
    assert done.err.startswith(
        f"runs-client: error: cannot write {blocker}/out.parquet"
    )
    assert "choose another path with -o" in done.err or "check the path" in done.err
    assert len(done.err.strip().splitlines()) == 1


def test_unreachable_server_and_debug() -> None:
    dead = "http://127.0.0.1:9"
    done = run_cli("runs", "a/b", "--base-url", dead, "--max-retries", "0")
    assert done.code == 1
    assert "Check the base URL" in done.err and "Traceback" not in done.err
    assert len(done.err.strip().splitlines()) == 1
    debug = run_cli("runs", "a/b", "--base-url", dead, "--max-retries", "0", "--debug")
    assert debug.code == 1 and "Traceback" in debug.err


def test_version_everywhere() -> None:
    from runs_client import __version__

    # The installed console script once, then each command in this process.
    runs = [run_cli("--version")]
    for args in (["runs"], ["histories"], ["serve"], ["demo"], ["schema-check"]):
        runs.append(run_in_process(*args, "--version"))
        runs.append(run_in_process(*args, "-V"))
    runs.append(run_in_process("-V"))
    for done in runs:
        assert done.code == 0, done.err
        assert done.out.strip().endswith(__version__), done.out


def test_stop_makes_run_stopped_status_true(cli: Any, live: Live) -> None:
    run = live.store.runs.id_of(EXACT, "cadence")
    assert not live.store.streams.stop_requested(run)
    # The open server's default user is no member of "test": the tester's key.
    refused = cli("stop", f"{EXACT}/cadence")
    assert refused.code != 0 and "not a member of entity 'test'" in refused.err
    done = cli("stop", f"{EXACT}/cadence", "--api-key", TESTER_KEY)
    assert done.code == 0, done.err
    assert "asked test/exact/cadence to stop" in done.out
    assert live.store.streams.stop_requested(run)
    missing = cli("stop", f"{EXACT}/nope", "--api-key", TESTER_KEY)
    assert missing.code != 0 and "nope" in missing.err


def test_bare_keys_mean_config_keys_in_order_as_in_where(cli: Any, live: Live) -> None:
    """``--order +lr``, the example of ``runs --help``, sorts by config.lr."""
    with Api(base_url=live.url) as api:
        want = [r.id for r in api.runs("demo/mnist", order="+config.lr")]
    done = cli("runs", "demo/mnist", "--order", "+lr", "--format", "json")
    assert done.code == 0, done.err
    assert [r["id"] for r in json.loads(done.out)] == want
    bare = cli("runs", "demo/mnist", "--order", "lr", "--format", "json")
    assert [r["id"] for r in json.loads(bare.out)] == want


def test_filter_takes_summary_keys_as_the_cli_names_them(cli: Any, live: Live) -> None:
    with Api(base_url=live.url) as api:
        want = [
            r.id
            for r in api.runs(
                "demo/mnist", filters={"summary_metrics.loss": {"$lt": 0.1}}
            )
        ]
    done = cli(
        "runs", "demo/mnist", "--filter", '{"$or": [{"summary.loss": {"$lt": 0.1}}]}',
        "--format", "json",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert [r["id"] for r in json.loads(done.out)] == want and want


def test_an_unknown_filter_field_names_the_accepted_ones_once(cli: Any) -> None:
    done = cli("runs", "demo/mnist", "--filter", '{"stat": "finished"}')
    assert done.code == 1
    assert done.err.count("accepted:") == 1, done.err
    assert done.err.count('unknown field "stat"') == 1
    # In the CLI's own terms: summary.KEY, never the server's summary_metrics.KEY.
    assert "summary.KEY" in done.err and "summary_metrics" not in done.err
    assert len(done.err.strip().splitlines()) == 1


KEY_TYPOS = [
    # (arguments, the one warning line's words)
    (["--where", "stat=finished"], "the config key 'stat'", "closest: state"),
    (["--where", "state=finishd"], "the state 'finishd'", "closest: finished"),
    (["--where", "summary.los=0.1"], "'summary.los'", "closest: summary.loss"),
    (
        ["--order", "-lrr", "--limit", "2"],
        "--order names the config key",
        "closest: lr",
    ),
]


@pytest.mark.parametrize(("args", "named", "closest"), KEY_TYPOS)
def test_a_key_no_run_has_is_named_on_stderr(
    cli: Any, args: list[str], named: str, closest: str
) -> None:
    done = cli("runs", "demo/mnist", *args, "--format", "json")
    assert done.code == 0  # the result stands: a warning, not an error
    lines = done.err.strip().splitlines()
    assert len(lines) == 1, done.err
    assert lines[0].startswith("runs-client: warning: ")
    assert named in lines[0] and closest in lines[0]
    assert "summary_metrics" not in lines[0] and "config." not in lines[0]
    json.loads(done.out)  # stdout is the result alone
