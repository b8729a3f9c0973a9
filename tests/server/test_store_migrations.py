"""Files written by every earlier layout open with the current store.

``store_files/vN.sql`` is a dump of a file written by layout version N. The
rule (``runs_server.store``): a change of the layout raises SCHEMA_VERSION,
ships a migration from the previous version, and adds the new version's dump.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from runs_server.store import Store
from runs_server.store.ddl import SCHEMA_VERSION

FILES = Path(__file__).parent / "store_files"
VERSIONS = sorted(int(p.stem[1:]) for p in FILES.glob("v*.sql"))


def _written_by(version: int, path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript((FILES / f"v{version}.sql").read_text(encoding="utf-8"))
    conn.close()
    return path


def _layout(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return sorted(
        (str(r[0]), " ".join(str(r[1]).split()))
        for r in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        )
    )


def test_every_version_has_a_file() -> None:
    assert list(range(1, SCHEMA_VERSION + 1)) == VERSIONS


def test_current_layout_is_the_last_file() -> None:
    # A DDL change without a new version (and a migration) fails here.
    fresh = Store()  # the layout this code writes
    dumped = sqlite3.connect(":memory:")
    dumped.executescript((FILES / f"v{SCHEMA_VERSION}.sql").read_text("utf-8"))
    assert _layout(fresh.conn) == _layout(dumped)


@pytest.mark.parametrize("version", VERSIONS)
def test_file_of_each_version_opens_with_its_data(version: int, tmp_path: Path) -> None:
    path = _written_by(version, tmp_path / f"v{version}.db")
    with Store(path) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        user = store.users.by_key("k" * 40)
        assert user is not None and user.username == "ada" and user.entity == "lab"
        assert store.users.entities(user.id) == ["lab", "team"]
        project = store.projects.find("lab", "mnist")
        assert project is not None and project.created_at == "2024-05-01T12:00:00"
        run = store.runs.id_of("lab/mnist", "r1")
        row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run,)).fetchone()
        assert json.loads(row["config"]) == {"lr": {"value": 0.1, "desc": None}}
        assert row["sweep_name"] == "sw1" and row["last_step"] == 1
        steps = store.conn.execute(
            "SELECT step, row FROM history WHERE run_id=? ORDER BY step", (run,)
        ).fetchall()
        assert [(s[0], s[1]) for s in steps] == [
            (0, '{"_step": 0, "loss": NaN}'),
            (1, '{"_step":1,"loss":0.5}'),
        ]
        # The file takes new writes after opening.
        assert store.history.log(run, [{"loss": 0.25}]) == 1


def test_v1_query_copies_are_rewritten(tmp_path: Path) -> None:
    # Layout 1 held NaN and the infinities as strings in the query copies, so
    # a logged string "NaN" and a NaN number were one value there.
    path = _written_by(1, tmp_path / "v1.db")
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE runs SET summary_metrics=?, summary_metrics_q=? WHERE name='r1'",
        (
            '{"acc":NaN,"word":"NaN","top":Infinity,"low":-Infinity}',
            '{"acc":"NaN","word":"NaN","top":"Infinity","low":"-Infinity"}',
        ),
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        q = store.conn.execute(
            "SELECT summary_metrics_q FROM runs WHERE name='r1'"
        ).fetchone()[0]
        assert q == '{"acc":{"":"NaN"},"word":"NaN","top":1e999,"low":-1e999}'
        kinds = store.conn.execute(
            "SELECT json_type(summary_metrics_q, '$.top'), "
            "json_extract(summary_metrics_q, '$.top') > 1e308 FROM runs"
        ).fetchone()
        assert tuple(kinds) == ("real", 1)


def test_v1_history_is_served_by_sampled_history_after_migration(
    tmp_path: Path,
) -> None:
    # Layout 3 added history_values (each value's JSON text) and layout 4
    # dropped it again: sampledHistory cuts the stored rows themselves,
    # NaN tokens (rows SQLite cannot read) included.
    from runs_server.history import fetch_sampled, parse_spec

    path = _written_by(1, tmp_path / "v1.db")
    with Store(path) as store:
        run = store.runs.id_of("lab/mnist", "r1")
        store.history.log(run, [{"loss": 0.25, "acc": 1}])
        spec = parse_spec('{"keys": ["_step", "loss"]}')
        text = fetch_sampled(store.conn, [run], spec)[run].decode()
        assert text == (
            '[{"_step":0,"loss":"NaN"},{"_step":1,"loss":0.5},{"_step":2,"loss":0.25}]'
        )
        spec = parse_spec('{"keys": ["acc"]}')
        assert json.loads(fetch_sampled(store.conn, [run], spec)[run]) == [{"acc": 1}]
        assert not store.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'history_values'"
        ).fetchall()
