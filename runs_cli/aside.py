"""Outputs written aside, renamed to the asked name only when complete.

An export writes under a hidden name in the target's folder
(``.out.parquet.1a2b3c4d.tmp``); only a complete result is renamed to the
name asked for (``os.replace``: atomic within one file system), so a file
under that name is always whole. Stopped part-way (Ctrl-C, a page that
failed), the pages written so far are kept under a name that says so
(``out.partial.parquet``, ``dataset.partial/``); otherwise the aside is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

__all__ = ["aside_path", "discard", "keep_partial", "move_into_place", "partial_name"]


def aside_path(target: Path) -> Path:
    """A new hidden name beside ``target`` (the writer creates it)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def partial_name(target: Path, folder: bool) -> Path:
    """``out.parquet``: ``out.partial.parquet``; ``dataset/``: ``dataset.partial/``."""
    if folder:
        return target.with_name(f"{target.name}.partial")
    return target.with_name(f"{target.stem}.partial{target.suffix}")


def move_into_place(aside: Path, target: Path, folder: bool) -> None:
    """Give the complete result ``aside`` the name ``target``."""
    if not folder or not target.exists():
        os.replace(aside, target)
        return
    for part in sorted(aside.iterdir()):  # an existing folder: each part, whole
        os.replace(part, target / part.name)
    aside.rmdir()


def keep_partial(aside: Path, target: Path, folder: bool) -> Path:
    """Rename an incomplete result to the partial name; returns that name."""
    partial = partial_name(target, folder)
    if folder and partial.is_dir():
        shutil.rmtree(partial)  # an older partial result of the same output
    os.replace(aside, partial)
    return partial


def discard(aside: Path) -> None:
    """Remove an aside that is not kept (never raises: it runs while an error
    that says more is on its way)."""
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
        return
    with contextlib.suppress(OSError):  # e.g. its folder is a file: never made
        aside.unlink(missing_ok=True)
