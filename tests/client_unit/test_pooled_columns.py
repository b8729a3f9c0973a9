"""Large numeric columns of pandas frames take pyarrow's pooled memory
(``chunks._empty``): the values are the pages' values and the frame can be
edited; small columns, and concatenations for polars or arrow frames, stay
in numpy's own memory."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from runs_client.history.chunks import Chunk, concat
from runs_client.history.frames import Columns

ROWS = 200_000  # 1.6 MB of float64 a column: past the 1 MiB threshold


def pages(n_pages: int, rows: int) -> Columns:
    columns = Columns()
    for page in range(n_pages):
        values = np.arange(page * rows, (page + 1) * rows, dtype=np.float64) / 7
        values.flags.writeable = False  # as a view of a page's body is
        columns.add_chunks(
            rows,
            {
                "loss": Chunk("float", rows, values),
                "_step": Chunk.grid(np.array([page * rows]), np.arange(rows)),
                "run_id": Chunk.repeat([f"r{page}"], [rows]),
            },
        )
    return columns


def test_a_large_pandas_column_is_right_and_editable() -> None:
    frame = pages(3, ROWS).to_pandas(release=True)
    expected = np.arange(3 * ROWS, dtype=np.float64) / 7
    assert np.array_equal(frame["loss"].to_numpy(), expected)
    assert list(frame["_step"][:3]) == [0, 1, 2]
    assert frame["_step"].iloc[-1] == 3 * ROWS - 1
    assert frame["run_id"].iloc[ROWS] == "r1"
    frame.loc[0, "loss"] = 42.0  # a user may edit the frame
    assert frame["loss"].iloc[0] == 42.0
    assert frame["loss"].iloc[1] == expected[1]


def test_only_asked_large_numeric_concatenations_are_pooled() -> None:
    big = Chunk("float", ROWS, np.ones(ROWS))
    plain = concat([big, big]).data
    pooled = concat([big, big], pooled=True).data
    small = concat([Chunk("float", 10, np.ones(10))] * 2, pooled=True).data
    text = concat([Chunk.repeat(["a"], [ROWS])] * 2, pooled=True).data
    assert plain is not None and pooled is not None
    assert small is not None and text is not None
    assert np.array_equal(plain, pooled)
    assert isinstance(pooled.base, pa.Buffer)
    assert plain.base is None  # numpy's own memory
    assert small.base is None
    assert text.dtype == object and text.base is None
    steps = concat([Chunk.grid(np.array([0, 10]), np.arange(ROWS))], pooled=True)
    assert steps.data is not None and isinstance(steps.data.base, pa.Buffer)
    assert steps.data[ROWS] == 10 and steps.data[-1] == 10 + ROWS - 1
