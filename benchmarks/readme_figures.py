"""Write a benchmark's own figures into the READMEs, between markers.

A block is the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``
(HTML comments: invisible once rendered). ``make bench`` replaces each block
with what the run measured, so no figure in a README is copied by hand and
none can drift from the last run.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["READMES", "block_text", "replace_block", "write_block"]

ROOT = Path(__file__).resolve().parents[1]
READMES = (ROOT / "README.md", ROOT / "benchmarks" / "README.md")


def _pattern(name: str) -> re.Pattern[str]:
    tag = re.escape(name)
    return re.compile(
        rf"(<!-- bench:{tag} -->\n)(.*?)(<!-- /bench:{tag} -->)", re.DOTALL
    )


def block_text(document: str, name: str) -> str | None:
    """The text of block ``name`` in ``document``, or None if it has none."""
    found = _pattern(name).search(document)
    return None if found is None else found.group(2)


def replace_block(document: str, name: str, text: str) -> str:
    """``document`` with block ``name`` holding ``text``; ValueError if absent."""
    pattern = _pattern(name)
    if pattern.search(document) is None:
        raise ValueError(f"no <!-- bench:{name} --> ... <!-- /bench:{name} --> block")
    body = text if text.endswith("\n") else text + "\n"
    return pattern.sub(lambda m: m.group(1) + body + m.group(3), document, count=1)


def write_block(name: str, text: str, paths: tuple[Path, ...] = READMES) -> list[Path]:
    """Replace block ``name`` in each of ``paths`` that has one; returns them."""
    written = []
    for path in paths:
        document = path.read_text(encoding="utf-8")
        if block_text(document, name) is None:
            continue
        path.write_text(replace_block(document, name, text), encoding="utf-8")
        written.append(path)
    if not written:
        raise ValueError(f"no README holds the block {name!r}")
    return written
