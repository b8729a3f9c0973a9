"""Which runs, in which order, where pages start: the run-listing compiler.

Owns the Mongo-style filter compiler (``filters``), ordering (``ordering``),
keyset cursors (``cursors``), field resolution (``fields``), ``$regex``
validation (``regex``), SQL fragments (``sql``), their errors (``errors``) and
the page and count queries (``page``). Pure: it builds parameterised SQL that
the caller runs on the store's connection, and holds no connection. May import:
``runs_server.store`` (the names of its SQL functions), never the history
reads, the loaders, GraphQL or HTTP.
"""

from runs_server.listing.page import (
    SORT_COLUMN_PREFIX,
    CursorError,
    FilterError,
    ListingError,
    OrderError,
    SqlQuery,
    count_runs,
    cursor_for,
    install_functions,
    page_runs,
)

__all__ = [
    "SORT_COLUMN_PREFIX",
    "CursorError",
    "FilterError",
    "ListingError",
    "OrderError",
    "SqlQuery",
    "count_runs",
    "cursor_for",
    "install_functions",
    "page_runs",
]
