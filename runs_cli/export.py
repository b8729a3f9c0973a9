"""``runs-client histories``: the histories of many runs into one file, page by page.

Built on ``Runs.iter_histories``: only a few pages are held at a time, and
with ``union_schema=True`` every page has the same columns and types, fixed
before the first page from what the runs say they logged (``historyKeys``,
or their system metrics): numbers are float64 (``_step`` int64), strings stay
strings, booleans booleans; media dicts, lists and keys logged with mixed
types are JSON text. JSON Lines keeps every value as it was logged.

Output by extension: ``.parquet``, ``.csv``, ``.jsonl`` (``.ndjson``); a folder
(an existing one, or a path ending in ``/``) gets one Parquet file per page,
a dataset DuckDB, Spark, Dask or ``pyarrow.dataset`` read as is.

Written aside and renamed when complete (``runs_cli.aside``): Ctrl-C or a
failed page keeps the pages written under ``out.partial.parquet`` and names
the resume token that fetches the rest (``--after``).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runs_cli.aside import aside_path, discard, keep_partial, move_into_place
from runs_cli.errors import EXIT_ERROR, CliError
from runs_client import IncompleteHistoriesError, Run, Runs, write_run_partitions

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ExportResult",
    "check_keys_logged",
    "export_histories",
    "output_kind",
]

Stream = Literal["default", "system"]
OutputKind = Literal["parquet", "csv", "jsonl", "folder"]

RUN_ID = "run_id"
EXIT_INTERRUPTED = 130  # as a shell reports a process stopped by SIGINT
# A longer resume token (it may name the runs left) goes to a file beside the
# partial output, passed back as --after @FILE, not into the message.
TOKEN_SHOWN_CHARS = 200
_EXTENSIONS: dict[str, OutputKind] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(frozen=True)
class ExportResult:
    runs: int
    rows: int
    path: Path
    bytes: int
    files: int


def output_kind(path: str) -> OutputKind:
    """The output format by the path's extension, or a folder."""
    if path.endswith(("/", os.sep)) or Path(path).is_dir():
        return "folder"
    kind = _EXTENSIONS.get(Path(path).suffix.lower())
    if kind is None:
        raise CliError(
            f"-o {path}: unknown output type; end the name with .parquet, .csv or "
            ".jsonl, or end it with / for a folder of Parquet files."
        )
    return kind


def check_keys_logged(runs: Sequence[Run], keys: Sequence[str], x_axis: str) -> None:
    """Raise ``CliError`` naming any of ``keys`` (or ``x_axis``) no run logged."""
    logged: dict[str, None] = {}
    for run in runs:
        found = run.history_keys.get("keys")
        logged.update(dict.fromkeys(found if isinstance(found, dict) else ()))
    missing = [k for k in dict.fromkeys([x_axis, *keys]) if k not in logged]
    if missing and runs:
        named = ", ".join(k for k in logged if not k.startswith("_"))
        close = [c for k in missing for c in difflib.get_close_matches(k, logged, n=2)]
        hint = f"closest: {', '.join(dict.fromkeys(close))}; " if close else ""
        raise CliError(
            f"no run logged {', '.join(map(repr, missing))}; {hint}keys these "
            f"runs logged: {named or '(none)'}."
        )


def _output_error(path: Path, exc: OSError) -> CliError:
    # pyarrow's errors carry no errno or filename, only a "Detail: " text.
    text = str(exc)
    reason = text.split("Detail: ")[-1] if "Detail: " in text else exc.strerror or text
    return CliError(
        f"cannot write {path}: {reason}; choose another path with -o.",
        exit_code=EXIT_ERROR,
    )


class _Writer:
    """One output, opened before the first page and closed after the last.

    Writes to ``path`` (the aside name); errors name ``shown`` (the user's).
    """

    def __init__(
        self,
        path: Path,
        kind: OutputKind,
        schema: pa.Schema | None,
        shown: Path,
        by_run: bool = False,
    ):
        self.shown = shown
        self.by_run = by_run
        try:
            self._open(path, kind, schema)
        except OSError as exc:
            raise _output_error(shown, exc) from exc

    def _open(self, path: Path, kind: OutputKind, schema: pa.Schema | None) -> None:
        self.path, self.kind = path, kind
        self.files = 0
        self._writer: Any = None
        self._lines: Any = None
        self._whole = 0  # JSON Lines bytes of the pages written whole
        if kind == "folder":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        elif kind == "csv":
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(path, schema)
        else:
            self._lines = path.open("wb")

    def write(self, data: Any) -> None:
        """Dict rows (JSON Lines) or one pyarrow Table (the other kinds)."""
        try:
            self._write(data)
        except OSError as exc:
            raise _output_error(self.shown, exc) from exc

    def _write(self, data: Any) -> None:
        if self.kind == "jsonl":
            # One write per page, so a page stopped half-way can be cut off.
            text = "".join(  # bare NaN/Infinity tokens, as W&B writes them
                json.dumps(row, separators=(",", ":")) + "\n" for row in data
            ).encode()
            self._lines.write(text)
            self._whole += len(text)
            return
        table: pa.Table = data
        if self.kind == "folder" and self.by_run:
            self.files += write_run_partitions(table, self.path)
        elif self.kind == "folder":
            import pyarrow.parquet as pq

            pq.write_table(
                table, self.path / f"part-{self.files:05d}.parquet", compression="zstd"
            )
            self.files += 1
        else:
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._lines is not None:
            self._lines.close()
        if self.kind != "folder":
            self.files = 1

    def close_whole_pages(self) -> None:
        """Close after a stop: only pages written whole stay in the file."""
        if self._lines is not None:
            self._lines.flush()
            self._lines.truncate(self._whole)
        self.close()


def _size(path: Path, kind: OutputKind) -> int:
    if kind == "folder":  # part-*.parquet, or run_id=*/part-0.parquet
        return sum(p.stat().st_size for p in path.rglob("part-*.parquet"))
    return path.stat().st_size


def export_histories(
    runs: Runs,
    output: str,
    *,
    samples: int = 500,
    keys: list[str] | None = None,
    x_axis: str = "_step",
    stream: Stream = "default",
    page_runs: int | None = None,
    after: str | None = None,
    partition_by_run: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the histories of ``runs`` to ``output``, one page of runs at a time.

    ``page_runs`` caps the runs per request (default: the client's row
    budget decides). ``after``: a resume token (printed when an export
    stops part-way): only the runs after it. ``on_start(total_runs)`` (from
    the server's run count, one request, before the runs are listed) and
    ``on_page(runs_in_page, rows_in_page)`` drive a progress display. Raises
    ``CliError`` for a bad path or key before any history request, when the
    output cannot be written, and when the export stops part-way (Ctrl-C, a
    failed page): then ``output`` is untouched and the pages written stand
    under the partial name with the token to go on. ``partition_by_run``
    (folders only): one file per run in ``run_id=<id>/``
    (``runs_client.write_run_partitions``).
    """
    kind = output_kind(output)
    if partition_by_run and kind != "folder":
        raise CliError(
            f"--partition-by-run writes a folder; end -o {output} with / "
            "(or drop --partition-by-run)."
        )
    if stream == "system" and keys:
        raise CliError("--keys cannot be combined with --stream system; drop --keys.")
    after = _token(after)
    keys = keys or None  # [] means full rows; the client refuses [] for system
    if on_start is not None:
        on_start(len(runs))  # runCount: the total is known before any listing
    run_list = runs[:]
    if keys and stream == "default":
        check_keys_logged(run_list, keys, x_axis)
    budget: dict[str, Any] = {"after": after}
    if page_runs is not None:
        budget["rows_per_request"] = page_runs * samples
    if kind == "jsonl":
        batches: Any = runs.iter_histories(
            samples, keys, x_axis, stream=stream, progress=False, **budget
        )
    else:
        batches = runs.iter_histories(
            samples, keys, x_axis, format="arrow", stream=stream,
            union_schema=True, progress=False, **budget,
        )  # fmt: skip
    path = Path(output)
    aside = aside_path(path)
    writer: _Writer | None = None
    rows = done = 0
    token: str | None = None
    try:
        for batch in batches:
            if writer is None:
                schema = None if kind == "jsonl" else batch.data.schema
                writer = _Writer(aside, kind, schema, path, partition_by_run)
            if batch.num_rows or kind != "folder":
                writer.write(batch.data)
            rows, done, token = (
                rows + batch.num_rows,
                done + len(batch.run_ids),
                batch.resume_token,
            )
            if on_page is not None:
                on_page(len(batch.run_ids), batch.num_rows)
        if writer is None:  # no runs: an empty file of the columns asked for
            writer = _Writer(aside, kind, _empty_schema(keys, x_axis), path)
        writer.close()
    except (KeyboardInterrupt, IncompleteHistoriesError) as exc:
        if writer is not None:
            writer.close_whole_pages()
        if token is None:
            discard(aside)
            raise
        partial = keep_partial(aside, path, kind == "folder")
        raise _stopped(exc, path, partial, done, rows, token) from exc
    except BaseException:
        if writer is not None:
            writer.close_whole_pages()
        discard(aside)
        raise
    move_into_place(aside, path, kind == "folder")
    return ExportResult(len(run_list), rows, path, _size(path, kind), writer.files)


def _token(after: str | None) -> str | None:
    """``--after TOKEN``, or ``--after @FILE`` holding the token."""
    if after is None or not after.startswith("@"):
        return after
    try:
        return Path(after[1:]).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(
            f"--after {after}: cannot read {after[1:]}: {exc.strerror}; pass the "
            "token file the stopped export named."
        ) from None


def _stopped(
    exc: BaseException, path: Path, partial: Path, runs: int, rows: int, token: str
) -> CliError:
    """One line: why it stopped, what was kept where, how to go on."""
    if len(token) > TOKEN_SHOWN_CHARS:
        saved = partial.with_name(partial.name + ".token")
        saved.write_text(token + "\n", encoding="utf-8")
        token = f"@{saved}"
    kept = (
        f"the {runs} runs ({rows} rows) written before are in {partial}, nothing "
        f"under {path}; to fetch the rest, run the same command with "
        f"--after {token} and another -o"
    )
    if isinstance(exc, KeyboardInterrupt):
        return CliError(f"interrupted: {kept}.", exit_code=EXIT_INTERRUPTED)
    return CliError(f"{exc} Stopped: {kept}.", exit_code=EXIT_ERROR)


def _empty_schema(keys: list[str] | None, x_axis: str) -> pa.Schema:
    import pyarrow as pa

    names = sorted({x_axis, *keys}) if keys else []
    return pa.schema([(RUN_ID, pa.string()), *((n, pa.float64()) for n in names)])
