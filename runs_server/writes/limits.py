"""Caps of the write path (the README's Limits table states them)."""

from __future__ import annotations

# One file_stream request (the SDK sends a few MB at most) and one line of it.
MAX_STREAM_BODY_BYTES = 16 * 1024 * 1024
MAX_STREAM_LINE_CHARS = 4 * 1024 * 1024
# Files one file_stream request may name (the SDK sends four kinds).
MAX_STREAM_FILES = 16
# One uploaded run file, held in memory once while it is stored.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
# Files one createRunFiles call may name, and the length of a name.
MAX_FILES_PER_CALL = 1_000
MAX_NAME_CHARS = 128
MAX_FILE_NAME_CHARS = 1_024
# How long upload and download links of run files stay valid.
LINK_TTL_S = 24 * 3600
# Rows of RunResumeStatus's historyTail and eventsTail.
TAIL_ROWS = 10
