"""The mirror's errors: each a ``RunsClientError``, so the CLI shows one line."""

from __future__ import annotations

import runs_client


class MirrorError(runs_client.RunsClientError):
    """A mirror that cannot start (a bad path or filter) or cannot write its
    copy (disk full, read-only, locked); the copy keeps every page written."""
