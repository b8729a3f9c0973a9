"""The server's SQLite store and its typed Python API (the lowest layer).

Owns the connection, the file layout (``ddl``), its migrations and the writes
and reads of each aggregate: ``users`` (entities, users, keys), ``projects``
(projects, sweeps, read access), ``runs``, ``history_rows`` (history and events
rows), and the write path's ``run_upserts``, ``streams`` (file_stream
offsets, console lines, stops) and ``run_files``. ``Store`` ties them
together; ``jsonrows`` and ``timeutil`` are the store's encodings of rows
and times; ``sqlfunctions`` the SQL functions every connection provides.

May import: the standard library and third-party packages only. It knows
nothing of the listing, history reads, loaders, GraphQL or HTTP above it.

Layout rule: every change of ``ddl.DDL`` raises ``SCHEMA_VERSION`` and ships
``migrations.MIGRATIONS[previous_version]`` with a test that opens a file
written by the previous layout (``tests/server/test_store_migrations.py``).
"""

from runs_server.store.errors import StoreError, StoreVersionError, StoreWriteError
from runs_server.store.history_rows import Row
from runs_server.store.projects import Project
from runs_server.store.run_files import RunFile
from runs_server.store.store import Store
from runs_server.store.users import User, new_api_key

__all__ = [
    "Project",
    "Row",
    "RunFile",
    "Store",
    "StoreError",
    "StoreVersionError",
    "StoreWriteError",
    "User",
    "new_api_key",
]
