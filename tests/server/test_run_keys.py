"""``Project.runKeys``: the keys a project's runs have, as filters name them."""

from __future__ import annotations

from runs_server.graphql.run_keys import MAX_RUN_KEYS, run_keys
from runs_server.store import Store


def test_run_keys_of_a_project() -> None:
    store = Store()
    store.projects.create("e", "p")
    store.projects.create("e", "other")
    run = store.runs.add(
        "e/p",
        "a",
        config={"lr": 0.1, "model": {"layers": 3}, "_wandb": {"x": 1}},
        summary={"val": {"acc": 0.9}, "img": {"_type": "image-file", "path": "p"}},
    )
    store.history.log(run, [{"_step": 0, "loss": 1.0, "val.acc": 0.5}])
    store.runs.add("e/p", "b", config={"betas": [0.9, 0.99]})
    store.runs.add("e/other", "c", config={"elsewhere": 1})
    rows = store.conn.execute(
        "SELECT config, summary_metrics, history_keys FROM runs "
        "WHERE project_id=(SELECT id FROM projects WHERE name='p')"
    )
    keys = run_keys(rows)
    assert keys["config"] == ["betas", "lr", "model", "model.layers"]
    # History rows set the summary too (each key's last value).
    assert keys["summary"] == ["_step", "img", "loss", "val", "val.acc"]
    assert keys["history"] == ["_step", "loss", "val.acc"]


def test_run_keys_are_capped() -> None:
    many = "{" + ",".join(f'"k{i}": 1' for i in range(MAX_RUN_KEYS + 5)) + "}"
    keys = run_keys([("{}", many, "{}")])
    assert len(keys["summary"]) == MAX_RUN_KEYS and keys["config"] == []
