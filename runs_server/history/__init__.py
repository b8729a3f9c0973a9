"""History reads for a whole page of runs: ``history``, ``sampledHistory``, ``events``;
per-run Parquet exports (``parquet``: files written on demand, signed links).

Owns the reads of the rows the store holds (``reads``: one SQL query per field
for all runs of a page, rows served as stored) and sampling (``sampling``).
The functions take a connection and hold none; the caller holds the store's
lock. May import: ``runs_server.store`` (its row encoding), never the listing,
the loaders, GraphQL or HTTP.
"""

from runs_server.history.parquet import (
    EXPORT_PATH_PREFIX,
    ExportFile,
    HistoryExports,
    LinkError,
    write_history_parquet,
)
from runs_server.history.reads import (
    MAX_KEYS_PER_SPEC,
    SPEC_FORM,
    HistoryArgumentError,
    Spec,
    check_samples,
    compact,
    fetch_events,
    fetch_history,
    fetch_sampled,
    parse_spec,
)

__all__ = [
    "EXPORT_PATH_PREFIX",
    "MAX_KEYS_PER_SPEC",
    "SPEC_FORM",
    "ExportFile",
    "HistoryArgumentError",
    "HistoryExports",
    "LinkError",
    "Spec",
    "check_samples",
    "compact",
    "fetch_events",
    "fetch_history",
    "fetch_sampled",
    "parse_spec",
    "write_history_parquet",
]
