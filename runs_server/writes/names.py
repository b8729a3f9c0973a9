"""Names a write may use: entity, project and run names become URL path
segments and file names become parts of links, so path characters are
refused with a message naming the character."""

from __future__ import annotations

from runs_server.writes.errors import WriteError
from runs_server.writes.limits import MAX_FILE_NAME_CHARS, MAX_NAME_CHARS

# W&B refuses these in run, project and entity names.
_FORBIDDEN = frozenset('/\\#?%:&<>"')


def checked_name(value: object, what: str) -> str:
    """``value`` if it is a usable entity, project or run name; else a 400."""
    if not isinstance(value, str) or not value:
        raise WriteError(400, f"{what} must be a non-empty string, got {value!r:.80}")
    if len(value) > MAX_NAME_CHARS:
        raise WriteError(
            400, f"{what} is {len(value)} characters long; at most {MAX_NAME_CHARS}"
        )
    bad = sorted({ch for ch in value if ch in _FORBIDDEN or not ch.isprintable()})
    if bad or value in (".", ".."):
        shown = ", ".join(repr(ch) for ch in bad) or repr(value)
        raise WriteError(
            400,
            f"{what} {value!r:.80} holds characters a name may not hold ({shown}); "
            "use letters, digits, '-', '_' and '.'",
        )
    return value


def checked_file_name(value: object) -> str:
    """A run file's name: a relative path without '..', '\\' or control characters."""
    if not isinstance(value, str) or not value:
        raise WriteError(
            400, f"a file name must be a non-empty string, got {value!r:.80}"
        )
    if len(value) > MAX_FILE_NAME_CHARS:
        raise WriteError(
            400,
            f"file name is {len(value)} characters long; at most {MAX_FILE_NAME_CHARS}",
        )
    parts = value.split("/")
    if (
        value.startswith("/")
        or "\\" in value
        or any(part in ("", ".", "..") for part in parts)
        or not value.isprintable()
    ):
        raise WriteError(
            400,
            f"file name {value!r:.80} must be a relative path without '..', "
            "empty parts, backslashes or control characters",
        )
    return value
