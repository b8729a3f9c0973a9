"""Parsing of the project and run paths users type.

Only the forms W&B users already write are accepted; anything else raises
``InvalidArgumentError`` listing them, before any request is made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._exceptions import InvalidArgumentError

__all__ = [
    "PROJECT_PATH_FORMS",
    "RUN_PATH_FORMS",
    "ProjectPath",
    "RunPath",
    "parse_project_path",
    "parse_run_path",
    "parse_sweep_path",
]

PROJECT_PATH_FORMS = ("entity/project", "project")
RUN_PATH_FORMS = (
    "entity/project/run_id",
    "entity/project/runs/run_id",
    "entity/project:run_id",
    "project/run_id",
)

# One path segment: no separators, no whitespace.
_SEGMENT = re.compile(r"[^/:\s]+")


@dataclass(frozen=True)
class ProjectPath:
    """A project; ``entity`` is None when the path did not name one."""

    entity: str | None
    project: str


@dataclass(frozen=True)
class RunPath:
    """A run, or a sweep (``run_id`` then holds the sweep id).

    ``entity`` is None when the path did not name one.
    """

    entity: str | None
    project: str
    run_id: str


def _forms(forms: tuple[str, ...]) -> str:
    return ", ".join(f"'{f}'" for f in forms)


def _segments(path: object, what: str, forms: tuple[str, ...]) -> list[str]:
    if not isinstance(path, str):
        raise InvalidArgumentError(
            f"{what} path must be a string, got {type(path).__name__}; "
            f"accepted forms: {_forms(forms)}."
        )
    parts = path.strip().split("/")
    if ":" in parts[-1]:
        head, _, run_id = parts[-1].partition(":")
        parts[-1:] = [head, run_id]
        if len(parts) != 3:  # the colon form needs the entity: entity/project:id
            parts.append("")  # force the error below
    if not all(_SEGMENT.fullmatch(p) for p in parts):
        raise InvalidArgumentError(
            f"{what} path {path!r} is malformed; accepted forms: {_forms(forms)} "
            "(no empty parts, spaces or extra ':')."
        )
    return parts


def parse_project_path(path: object) -> ProjectPath:
    """``'entity/project'`` or ``'project'``."""
    parts = _segments(path, "Project", PROJECT_PATH_FORMS)
    if len(parts) == 2:
        return ProjectPath(parts[0], parts[1])
    if len(parts) == 1:
        return ProjectPath(None, parts[0])
    raise InvalidArgumentError(
        f"Project path {path!r} has {len(parts)} parts; accepted forms: "
        f"{_forms(PROJECT_PATH_FORMS)}. For a run, use Api.run()."
    )


def parse_run_path(path: object) -> RunPath:
    """Any of ``RUN_PATH_FORMS``: the run id is the run's short id, not its name."""
    return _parse_object_path(path, "Run", "runs", RUN_PATH_FORMS)


def parse_sweep_path(path: object) -> RunPath:
    """As ``parse_run_path``, with ``sweeps`` in place of ``runs``."""
    forms = tuple(f.replace("run", "sweep") for f in RUN_PATH_FORMS)
    return _parse_object_path(path, "Sweep", "sweeps", forms)


def _parse_object_path(
    path: object, what: str, collection: str, forms: tuple[str, ...]
) -> RunPath:
    parts = _segments(path, what, forms)
    if len(parts) == 4 and parts[2] == collection:
        del parts[2]
    if len(parts) == 3:
        return RunPath(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return RunPath(None, parts[0], parts[1])
    raise InvalidArgumentError(
        f"{what} path {path!r} has {len(parts)} parts; accepted forms: {_forms(forms)}."
    )
