"""The demo seed made once per test process and copied into each new store.

``seed_demo`` writes 320 runs with their full histories (seconds of work);
SQLite's backup API copies the finished database page for page in a tenth of
that. A copy holds exactly what seeding the store would have written, and the
stores stay independent. ``seed_demo`` itself is still tested directly
(tests/server/test_demo.py), against a store seeded here.
"""

from __future__ import annotations

import threading

from runs_server.loaders.demo import DemoInfo, seed_demo
from runs_server.store import Store

__all__ = ["seed_demo_copy"]

_template: tuple[Store, DemoInfo] | None = None
_lock = threading.Lock()


def seed_demo_copy(store: Store) -> DemoInfo:
    """``seed_demo(store)`` for a new, empty store, as a copy of one seed."""
    global _template
    with _lock:
        if _template is None:
            template = Store()
            _template = template, seed_demo(template)
        template, info = _template
        with store.lock:
            projects = store.conn.execute("SELECT count(*) FROM projects").fetchone()
            assert projects[0] == 0, "seed_demo_copy replaces the whole store"
            template.conn.backup(store.conn)
    return info
