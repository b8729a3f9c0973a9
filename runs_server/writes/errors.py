"""The write path's refusals: an HTTP status and a message saying what to fix."""

from __future__ import annotations


class WriteError(Exception):
    """A write refused: ``status`` (400, 401, 403, 404, 409, 413) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
