# ruff: noqa: E501  (row literals read best on one line)
"""Unit tests of the store: schema versions, logging rows, the JSONL loader."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from runs_server.loaders.jsonl import load_jsonl
from runs_server.store import Store, StoreError, StoreVersionError
from runs_server.store.ddl import SCHEMA_VERSION


@pytest.fixture
def store() -> Store:
    s = Store()
    s.users.create("u", entity="e")
    s.projects.create("e", "p")
    return s


def test_schema_version_recorded_and_file_reopens(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with Store(path) as s:
        s.projects.create("e", "p")
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
    with Store(path) as s:
        assert s.projects.find("e", "p") is not None


def _set_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    conn.commit()
    conn.close()


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    Store(path).close()
    _set_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(StoreVersionError, match="newer than this server's"):
        Store(path)


def test_older_file_without_migration_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runs_server.store import migrations as store_module

    path = tmp_path / "runs.db"
    Store(path).close()
    _set_version(path, SCHEMA_VERSION - 1)
    # Every real older version has a migration: take the last one away.
    monkeypatch.delitem(store_module.MIGRATIONS, SCHEMA_VERSION - 1)
    with pytest.raises(StoreVersionError, match="no migration exists"):
        Store(path)


def test_older_file_is_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runs_server.store import migrations as store_module

    path = tmp_path / "runs.db"
    Store(path).close()
    _set_version(path, SCHEMA_VERSION - 1)
    ran: list[int] = []
    monkeypatch.setitem(
        store_module.MIGRATIONS, SCHEMA_VERSION - 1, lambda conn: ran.append(1)
    )
    with Store(path) as s:
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert ran == [1]


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreVersionError, match="not a runs_server database"):
        Store(path)


def test_add_run_wraps_config_and_fills_query_copies(store: Store) -> None:
    run = store.runs.add(
        "e/p", "r1", config={"lr": 0.1, "bad": math.nan}, summary={"x": -math.inf}
    )
    row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
    assert (
        row["config"]
        == '{"lr":{"value":0.1,"desc":null},"bad":{"value":NaN,"desc":null}}'
    )
    # the query copy: NaN is the marker object, infinities are numbers
    assert json.loads(row["config_q"])["bad"] == {"value": {"": "NaN"}, "desc": None}
    assert row["summary_metrics"] == '{"x":-Infinity}'
    assert row["summary_metrics_q"] == '{"x":-1e999}'
    assert row["display_name"] == "r1" and row["state"] == "finished"


def test_log_history_rows(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    text = '{"_step": 1.0, "loss": NaN}'
    assert (
        store.history.log(
            run, [{"loss": 1}, text, {"loss": math.inf, "img": {"_type": "image-file"}}]
        )
        == 3
    )
    rows = store.conn.execute("SELECT step, row FROM history ORDER BY step").fetchall()
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[1]["row"] == text  # stored exactly as given
    assert rows[2]["row"] == '{"loss":Infinity,"img":{"_type":"image-file"},"_step":2}'
    columns = {
        r["key"]: (json.loads(r["steps"]), json.loads(r["vals"]))
        for r in store.conn.execute("SELECT key, steps, vals FROM history_columns")
    }
    assert columns == {  # one chunk per key of this log call, values strict
        "loss": ([0, 1, 2], [1, "NaN", "Infinity"]),
        "_step": ([0, 1, 2], [0, 1.0, 2]),
        "img": ([2], [{"_type": "image-file"}]),
    }
    run_row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
    assert run_row["history_line_count"] == 3 and run_row["last_step"] == 2
    keys = json.loads(run_row["history_keys"])
    assert keys["img"] == {"typeCounts": [{"type": "image-file", "count": 1}]}
    assert keys["loss"] == {"typeCounts": [{"type": "number", "count": 3}]}
    assert json.loads(run_row["summary_metrics_q"])["loss"] == math.inf
    # appending continues the counts
    store.history.log(run, [{"loss": "diverged"}])
    keys = json.loads(store.conn.execute("SELECT history_keys FROM runs").fetchone()[0])
    assert keys["loss"]["typeCounts"] == [
        {"type": "number", "count": 3},
        {"type": "string", "count": 1},
    ]


def test_log_history_rejects_bad_rows(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log(run, [{"_step": 5}])
    with pytest.raises(StoreError, match="must increase"):
        store.history.log(run, [{"_step": 5}])
    with pytest.raises(StoreError, match="whole number"):
        store.history.log(run, [{"_step": 6.5}])
    with pytest.raises(StoreError, match="JSON object"):
        store.history.log(run, ["[1, 2]"])
    with pytest.raises(StoreError, match="no run"):
        store.history.log(999, [{"a": 1}])
    # a failed call leaves nothing behind
    assert store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 1


def test_log_events_updates_system_metrics(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log_events(
        run,
        [{"_timestamp": 2, "system.cpu": 10}, '{"_timestamp": 1.5, "system.cpu": NaN}'],
    )
    row = store.conn.execute("SELECT system_metrics FROM runs").fetchone()
    assert row[0] == '{"system.cpu":NaN}'
    with pytest.raises(StoreError, match="_timestamp"):
        store.history.log_events(run, [{"system.cpu": 1}])


def test_delete_run(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log(run, [{"a": 1}])
    store.runs.delete(run)
    assert store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 0
    with pytest.raises(StoreError):
        store.runs.id_of("e/p", "r1")


def test_users_keys_and_readability() -> None:
    s = Store()
    owner = s.users.create("owner", teams=["team"])
    other = s.users.create("other")
    admin = s.users.create("root", admin=True)
    s.projects.create("team", "hidden", private=True)
    hidden = s.projects.find("team", "hidden")
    assert hidden is not None
    assert s.projects.can_read(owner, hidden) and s.projects.can_read(admin, hidden)
    assert not s.projects.can_read(other, hidden) and not s.projects.can_read(
        None, hidden
    )
    assert owner.api_key is not None and len(owner.api_key) == 40
    assert s.users.by_key(owner.api_key) == owner
    assert s.users.default() == owner
    assert s.users.entities(owner.id) == ["owner", "team"]


def test_load_jsonl(tmp_path: Path) -> None:
    lines = [
        '{"type": "user", "username": "ann", "entity": "lab", "api_key": "k1"}',
        '{"type": "project", "entity": "lab", "name": "p", "private": true}',
        '{"type": "sweep", "project": "lab/p", "name": "sw", "method": "grid"}',
        "# a comment",
        "",
        '{"type": "run", "project": "lab/p", "name": "r", "config": {"lr": 0.1}, "tags": ["t"],'
        ' "sweep": "sw", "user": "ann", "created_at": "2024-01-01T00:00:00Z",'
        ' "history": [{"_step": 0, "loss": NaN}], "events": [{"_timestamp": 1}]}',
        '{"type": "history", "project": "lab/p", "run": "r", "rows": [{"_step": 1, "loss": 2}]}',
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines))
    s = Store()
    assert load_jsonl(s, path) == {
        "user": 1,
        "project": 1,
        "sweep": 1,
        "run": 1,
        "history": 1,
    }
    row = s.conn.execute("SELECT * FROM runs").fetchone()
    assert row["history_line_count"] == 2 and row["created_at"] == "2024-01-01T00:00:00"
    assert row["sweep_name"] == "sw" and row["username"] == "ann"
    with pytest.raises(StoreError, match="line 1: unknown line type"):
        load_jsonl(s, ['{"type": "bogus"}'])
    with pytest.raises(StoreError, match="line 2"):
        load_jsonl(s, ["", "{broken"])


_PROJECT_LINE = '{"type": "project", "entity": "e", "name": "p"}'


def test_a_run_lines_summary_is_final() -> None:
    """The README's example: a run line's summary stays as given whatever
    history follows (inline or in later lines); without one, the last values."""
    lines = [
        _PROJECT_LINE,
        '{"type": "run", "project": "e/p", "name": "given", "summary": {"loss": 0.2},'
        ' "history": [{"_step": 0, "loss": 1.2}, {"_step": 1, "loss": 0.2}]}',
        '{"type": "history", "project": "e/p", "run": "given",'
        ' "rows": [{"_step": 2, "loss": 0.1, "acc": 0.9}]}',
        '{"type": "run", "project": "e/p", "name": "logged",'
        ' "history": [{"_step": 0, "loss": 1.2}]}',
        '{"type": "history", "project": "e/p", "run": "logged",'
        ' "rows": [{"_step": 1, "loss": 0.1, "val.acc": 0.9}]}',
    ]
    s = Store()
    load_jsonl(s, lines)
    summaries = {
        row["name"]: json.loads(row["summary_metrics"])
        for row in s.conn.execute("SELECT name, summary_metrics FROM runs")
    }
    assert summaries["given"] == {"loss": 0.2}
    assert summaries["logged"] == {"_step": 1, "loss": 0.1, "val": {"acc": 0.9}}
    steps = s.conn.execute("SELECT count(*) FROM history").fetchone()[0]
    assert steps == 5  # the history itself is all there


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (['{"type": "entity"}'], "line 1: missing key 'name'"),
        (['{"type": "user", "username": "a"}'] * 2, "line 2: "),
        (
            [
                _PROJECT_LINE,
                '{"type": "run", "project": "e/p", "name": "r", '
                '"history": [{"_step": 100000000000000000000000}]}',
            ],
            "line 2: ",
        ),
        (
            [_PROJECT_LINE, '{"type": "run", "project": "e/p", "config": [1]}'],
            "line 2: ",
        ),
        (
            [_PROJECT_LINE, '{"type": "run", "project": "e/p", "created_at": 5}'],
            "line 2: ",
        ),
        (
            [_PROJECT_LINE, '{"type": "run", "project": "e/p", "state": null}'],
            "line 2: ",
        ),
        (['{"type": "history", "project": "e/p"}'], "line 1: "),
    ],
)
def test_load_jsonl_bad_lines_name_their_line(lines: list[str], needle: str) -> None:
    with Store() as s, pytest.raises(StoreError) as caught:
        load_jsonl(s, lines)
    assert str(caught.value).startswith(needle), str(caught.value)


def test_and_rule_is_exact_for_the_key_comma(store: Store) -> None:
    # "," once had to be tested apart (substring probes of the key lists could
    # match across two elements, as in ["a,","b"]); the key columns need not.
    from runs_server.history import fetch_sampled, parse_spec

    run = store.runs.add("e/p", "r")
    store.history.log(run, [{"_step": 0, "a,": 1, "b": 2}, {"_step": 1, ",": 3}])
    got = fetch_sampled(store.conn, [run], parse_spec('{"keys": [","]}'))
    assert json.loads(got[run]) == [{",": 3}]
    got = fetch_sampled(store.conn, [run], parse_spec('{"keys": ["a,", ","]}'))
    assert json.loads(got[run]) == []


def test_summary_nests_dotted_history_keys_so_filters_find_them(store: Store) -> None:
    from runs_server.listing import count_runs, install_functions

    run = store.runs.add("e/p", "r1")
    store.history.log(
        run,
        [
            {"_step": 0, "val.acc": 0.5, "loss": 1.0},
            {"_step": 1, "val.acc": 0.75, "val.loss": 0.2, "a.b.c": "deep"},
        ],
    )
    row = store.conn.execute(
        "SELECT summary_metrics FROM runs WHERE id=?", (run,)
    ).fetchone()
    summary = json.loads(row[0])
    assert summary["val"] == {"acc": 0.75, "loss": 0.2}
    assert summary["a"] == {"b": {"c": "deep"}}
    assert summary["loss"] == 1.0 and summary["_step"] == 1
    assert "val.acc" not in summary
    install_functions(store.conn)
    project = store.projects.id_of("e/p")
    for filters, expected in [
        ('{"summary_metrics.val.acc": {"$gt": 0.7}}', 1),
        ('{"summary_metrics.val.acc": {"$gt": 0.8}}', 0),
    ]:
        query = count_runs(project, filters)
        assert store.conn.execute(query.sql, query.params).fetchone()[0] == expected


def _summary_by_rows(rows: list[dict[str, object]]) -> dict[str, object]:
    """A plain model of the summary rule: every value of every row applied in
    order, dotted keys nested, whatever stands in the way replaced."""
    summary: dict[str, object] = {}
    for row in rows:
        for key, value in row.items():
            target = summary
            *parents, leaf = key.split(".")
            for part in parents:
                if not isinstance(target.get(part), dict):
                    target[part] = {}
                child = target[part]
                assert isinstance(child, dict)
                target = child
            target[leaf] = value
    return summary


@pytest.mark.parametrize(
    "rows",
    [
        # A dotted key and its prefix both logged: the last logged wins.
        [{"val": 5}, {"val.acc": 1}, {"val": 6}],
        [{"val.acc": 1}, {"val": 5}, {"val.acc": 2}],
        [{"val": 5, "val.acc": 1}, {"val.acc": 2, "val": 7}],
        [{"a.b.c": 1}, {"a.b": 2}, {"a": {"x": 1}}, {"a.b.d": 3}],
        [{"x": 1, "y.z": 2}, {"y.w": 3}, {"x": 4}],
    ],
)
def test_summary_follows_the_order_rows_were_logged(
    store: Store, rows: list[dict[str, object]]
) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log(run, [{"_step": i, **row} for i, row in enumerate(rows)])
    summary = json.loads(
        store.conn.execute(
            "SELECT summary_metrics FROM runs WHERE id=?", (run,)
        ).fetchone()[0]
    )
    expected = _summary_by_rows([{"_step": i, **r} for i, r in enumerate(rows)])
    assert summary == expected


def test_history_keys_count_each_type_logged(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log(
        run,
        [
            {"_step": 0, "x": 1, "m": {"_type": "image-file", "path": "a.png"}},
            {"_step": 1, "x": 0.5, "m": {"k": 1}, "f": True, "n": None},
            '{"_step": 2, "x": NaN, "m": [1, 2], "f": "yes"}',
        ],
        update_summary=False,
    )
    keys = json.loads(store.conn.execute("SELECT history_keys FROM runs").fetchone()[0])
    assert {k: v["typeCounts"] for k, v in keys.items()} == {
        "_step": [{"type": "number", "count": 3}],
        "x": [{"type": "number", "count": 3}],
        "m": [
            {"type": "image-file", "count": 1},
            {"type": "map", "count": 1},
            {"type": "list", "count": 1},
        ],
        "f": [{"type": "boolean", "count": 1}, {"type": "string", "count": 1}],
        "n": [{"type": "nil", "count": 1}],
    }


def _run_names(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT name FROM runs ORDER BY name")]


def test_transaction_commits_a_group_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    store.projects.create("e", "p")
    with store.transaction():
        run = store.runs.add("e/p", "r1")
        store.history.log(run, [{"loss": 1.0}])
        store.runs.add("e/p", "r2")
        # Nothing is committed yet: a second connection sees no run.
        assert store.conn.in_transaction
        with sqlite3.connect(store.path) as other:
            assert other.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    assert not store.conn.in_transaction
    with sqlite3.connect(store.path) as other:
        assert other.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    assert _run_names(store) == ["r1", "r2"]
    store.close()


def test_transaction_rolls_the_whole_group_back(store: Store) -> None:
    with pytest.raises(StoreError, match="steps must increase"), store.transaction():
        run = store.runs.add("e/p", "r1")
        store.history.log(run, [{"_step": 5}, {"_step": 1}])
    assert _run_names(store) == []
    assert store.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 0


def test_a_caught_failure_inside_a_transaction_undoes_only_its_writes(
    store: Store,
) -> None:
    with store.transaction():
        run = store.runs.add("e/p", "r1")
        with pytest.raises(StoreError):
            store.history.log(run, [{"_step": 0}, {"_step": 0}])
        store.history.log(run, [{"_step": 3, "loss": 2.0}])
    rows = store.conn.execute("SELECT step FROM history").fetchall()
    assert [r[0] for r in rows] == [3]
    assert _run_names(store) == ["r1"]


def test_update_run_fields(store: Store) -> None:
    run = store.runs.add(
        "e/p",
        "r1",
        state="running",
        config={"lr": 0.1},
        tags=["a"],
        created_at="2024-05-01T12:00:00",
    )
    store.runs.update(
        run,
        state="finished",
        summary={"loss": math.nan},
        config={"lr": 0.2},
        tags=["b", "c"],
        heartbeat_at="2024-05-01T13:00:00+01:00",
        updated_at="2024-05-01T12:30:00",
    )
    row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
    assert row["state"] == "finished"
    assert row["summary_metrics"] == '{"loss":NaN}'
    assert json.loads(row["summary_metrics_q"]) == {"loss": {"": "NaN"}}
    assert json.loads(row["config"]) == {"lr": {"value": 0.2, "desc": None}}
    assert json.loads(row["config_q"]) == {"lr": {"value": 0.2, "desc": None}}
    assert json.loads(row["tags"]) == ["b", "c"]
    assert row["created_at"] == "2024-05-01T12:00:00"  # not given: unchanged
    assert row["heartbeat_at"] == "2024-05-01T12:00:00"  # to UTC
    assert row["updated_at"] == "2024-05-01T12:30:00"


def test_update_run_leaves_unnamed_fields_and_refuses_unknown_runs(
    store: Store,
) -> None:
    run = store.runs.add("e/p", "r1", summary={"x": 1}, tags=["a"])
    store.runs.update(run, state="crashed")
    row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
    assert row["state"] == "crashed"
    assert json.loads(row["summary_metrics"]) == {"x": 1}
    assert json.loads(row["tags"]) == ["a"]
    with pytest.raises(StoreError, match="no run with storage id 999"):
        store.runs.update(999, state="finished")
    with pytest.raises(StoreError, match="tags must be a list"):
        store.runs.update(run, tags="a")


def test_put_adds_then_sets_every_field_keeping_history(store: Store) -> None:
    run = store.runs.put("e/p", "r1", group="g", notes="n", user="u", tags=["a"])
    store.history.log(run, [{"_step": 0, "x": 1}], update_summary=False)
    again = store.runs.put(
        "e/p",
        "r1",
        state="crashed",
        summary={"x": math.nan},
        system_metrics={"cpu": 3},
        updated_at="2024-01-02T00:00:00",
    )
    assert again == run
    row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
    # Fields not given are cleared, not kept (unlike update()).
    assert (row["group_name"], row["notes"], row["username"], row["tags"]) == (
        None,
        None,
        None,
        "[]",
    )
    assert (row["state"], row["summary_metrics"], row["system_metrics"]) == (
        "crashed",
        '{"x":NaN}',
        '{"cpu":3}',
    )
    assert row["summary_metrics_q"] == '{"x":{"":"NaN"}}'  # layout 2's NaN marker
    assert row["updated_at"] == "2024-01-02T00:00:00"
    assert (row["history_line_count"], row["last_step"]) == (1, 0)
    index = store.runs.index("e/p")
    assert list(index) == ["r1"]
    assert index["r1"].id == run and index["r1"].history_line_count == 1
    assert index["r1"].last_step == 0 and index["r1"].state == "crashed"


def test_clear_history_and_events(store: Store) -> None:
    run = store.runs.add("e/p", "r1")
    store.history.log(run, [{"_step": 0, "x": 1}, {"_step": 1, "x": 2}])
    store.history.log_events(run, [{"_timestamp": 1.0, "cpu": 1}])
    store.history.clear(run, history=False)
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 2
    store.history.clear(run)
    assert store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 0
    assert store.runs.index("e/p")["r1"].last_step is None
    store.history.log(run, [{"_step": 0, "y": 1}])  # starts over at step 0
    keys = store.conn.execute("SELECT history_keys FROM runs").fetchone()[0]
    assert list(json.loads(keys)) == ["_step", "y"]
    from runs_server.history import fetch_sampled, parse_spec

    spec = parse_spec('{"keys": ["_step", "y"]}')
    assert fetch_sampled(store.conn, [run], spec)[run] == b'[{"_step":0,"y":1}]'


def test_create_sweep_with_replace_updates_it(store: Store) -> None:
    first = store.projects.create_sweep("e/p", "s1", state="RUNNING", best_loss=1.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.projects.create_sweep("e/p", "s1")
    second = store.projects.create_sweep(
        "e/p", "s1", state="FINISHED", best_loss=0.5, replace=True
    )
    assert first == second
    row = store.conn.execute("SELECT state, best_loss FROM sweeps").fetchall()
    assert [tuple(r) for r in row] == [("FINISHED", 0.5)]
