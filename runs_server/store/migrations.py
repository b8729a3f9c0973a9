"""Upgrades of files written by older layouts, keyed by the version they start from.

The rule: every change of ``ddl.DDL`` raises ``SCHEMA_VERSION`` by one and adds
``MIGRATIONS[old_version]``, a function that upgrades a connection from the
previous layout, together with a test that opens a file written by that
previous layout (``tests/server/test_store_migrations.py`` keeps the files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}
