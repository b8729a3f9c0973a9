"""Field names of filters and orders, resolved to SQL over the ``runs`` table.

A field is a *source* of one value per run, described by its type class
(``missing``, ``null``, ``true``, ``false``, ``number``, ``string``, ``nan``,
``other`` for arrays/objects) and its SQL value. ``number`` includes the
infinities (the query copy holds them as SQLite reals); ``nan`` is NaN, held
as the marker object ``{"": "NaN"}`` (see ``jsonrows.dumps_query``), a class of
its own: it equals nothing and satisfies no comparison. ``tags`` is the one
array field; filters treat it element-wise, as MongoDB does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runs_server.listing.errors import ListingError, show
from runs_server.listing.sql import FALSE, TRUE, Frag

__all__ = [
    "ACCEPTED_FIELDS",
    "ALL_CLASSES",
    "ColumnSource",
    "DurationSource",
    "ElementSource",
    "JsonSource",
    "Source",
    "TagsField",
    "resolve_field",
]

Domain = Literal["any", "date", "number"]

ALL_CLASSES = frozenset(
    {"missing", "null", "true", "false", "number", "string", "nan", "other"}
)
# SQLite json_type() names of each class ("missing" is json_type() IS NULL).
_JSON_TYPES = {
    "null": ("null",),
    "true": ("true",),
    "false": ("false",),
    "number": ("integer", "real"),
    "string": ("text",),
    "nan": ("nan",),
    "other": ("array", "object"),
}

ACCEPTED_FIELDS = (
    "name, displayName (display_name), state, tags, group, jobType, host, "
    "username, sweep, createdAt (created_at), heartbeatAt (heartbeat_at), "
    "updatedAt (updated_at), duration, config.KEY (config.KEY.value, nested "
    "config.KEY.a.b), summary_metrics.KEY (summaryMetrics.KEY, nested a.b)"
)


def _type_list(classes: frozenset[str]) -> str:
    names = sorted(t for c in classes if c in _JSON_TYPES for t in _JSON_TYPES[c])
    return ", ".join(f"'{n}'" for n in names)


@dataclass(frozen=True)
class Source:
    """One value per run. ``canonical`` names the field in cursors."""

    canonical: str
    domain: Domain

    def has_class(self, classes: frozenset[str]) -> Frag:
        """0/1 SQL: the run's value belongs to one of ``classes``."""
        raise NotImplementedError

    def value(self) -> Frag:
        """SQL for the value; non-NULL whenever the class is not missing/null."""
        raise NotImplementedError


@dataclass(frozen=True)
class ColumnSource(Source):
    """A TEXT column of ``runs``; NULL means the field is missing."""

    column: str
    not_null: bool

    def has_class(self, classes: frozenset[str]) -> Frag:
        """See Source.has_class."""
        string = "string" in classes
        missing = "missing" in classes and not self.not_null
        if string and (missing or self.not_null):
            return TRUE
        if string:
            return Frag(f"runs.{self.column} IS NOT NULL")
        if missing:
            return Frag(f"runs.{self.column} IS NULL")
        return FALSE

    def value(self) -> Frag:
        """See Source.value."""
        return Frag(f"runs.{self.column}")


@dataclass(frozen=True)
class DurationSource(Source):
    """Seconds from created_at to heartbeat_at, rounded to milliseconds."""

    # julianday() carries sub-millisecond noise; rounding makes 10 s equal 10.
    SQL = (
        "round((julianday(runs.heartbeat_at) - julianday(runs.created_at))"
        " * 86400.0, 3)"
    )

    def has_class(self, classes: frozenset[str]) -> Frag:
        """See Source.has_class."""
        number, missing = "number" in classes, "missing" in classes
        if number and missing:
            return TRUE
        if number:
            return Frag(f"{self.SQL} IS NOT NULL")
        if missing:
            return Frag(f"{self.SQL} IS NULL")
        return FALSE

    def value(self) -> Frag:
        """See Source.value."""
        return Frag(self.SQL)


@dataclass(frozen=True)
class JsonSource(Source):
    """A JSON path into ``config_q`` or ``summary_metrics_q`` (path bound as ?)."""

    column: str
    path: str

    def json_type(self) -> Frag:
        """SQL json_type() of the value; NULL when the path is missing."""
        return Frag(f"json_type(runs.{self.column}, ?)", (self.path,))

    def is_nan(self) -> Frag:
        """0/1 SQL: the value is the NaN marker ``{"": "NaN"}``."""
        return Frag(
            f"IFNULL(json_extract(runs.{self.column}, ?) = 'NaN', 0)",
            (self.path + '.""',),
        )

    def kind(self) -> Frag:
        """SQL naming the value's class: a json_type() name, 'nan' or 'missing'."""
        jt, nan = self.json_type(), self.is_nan()
        return Frag(
            f"CASE WHEN {jt.sql} IS NULL THEN 'missing' "
            f"WHEN {jt.sql} = 'object' AND {nan.sql} THEN 'nan' ELSE {jt.sql} END",
            (*jt.params, *jt.params, *nan.params, *jt.params),
        )

    def has_class(self, classes: frozenset[str]) -> Frag:
        """See Source.has_class."""
        if classes >= ALL_CLASSES:
            return TRUE
        listed = _type_list(classes)
        if "missing" in classes:
            listed = f"{listed}, 'missing'" if listed else "'missing'"
        if not listed:
            return FALSE
        if "other" not in classes and "nan" not in classes:
            # Neither objects nor NaN asked for: json_type() alone decides.
            jt = self.json_type()
            return Frag(f"IFNULL({jt.sql}, 'missing') IN ({listed})", jt.params)
        kind = self.kind()
        return Frag(f"{kind.sql} IN ({listed})", kind.params)

    def value(self) -> Frag:
        """See Source.value (booleans read as 1/0)."""
        return Frag(f"json_extract(runs.{self.column}, ?)", (self.path,))


@dataclass(frozen=True)
class ElementSource(Source):
    """One element of a ``json_each`` over an array column, aliased ``tag``."""

    def has_class(self, classes: frozenset[str]) -> Frag:
        """See Source.has_class; an element is never missing."""
        types = _type_list(classes)
        return Frag(f"tag.type IN ({types})") if types else FALSE

    def value(self) -> Frag:
        """See Source.value."""
        return Frag("tag.value")


@dataclass(frozen=True)
class TagsField:
    """The ``tags`` array: a run matches when some element matches."""

    canonical: str = "tags"
    element: ElementSource = ElementSource("tags", "any")

    def exists_any(self, predicate: Frag) -> Frag:
        """0/1 SQL: some tag satisfies ``predicate`` (written over ``tag``)."""
        if predicate.sql == FALSE.sql:
            return FALSE
        return Frag(
            f"EXISTS (SELECT 1 FROM json_each(runs.tags) AS tag WHERE {predicate.sql})",
            predicate.params,
        )


_COLUMNS: dict[str, tuple[str, Domain, bool]] = {
    # field: (column, domain, NOT NULL in ddl)
    "name": ("name", "any", True),
    "displayName": ("display_name", "any", False),
    "display_name": ("display_name", "any", False),
    "state": ("state", "any", True),
    "group": ("group_name", "any", False),
    "jobType": ("job_type", "any", False),
    "job_type": ("job_type", "any", False),
    "host": ("host", "any", False),
    "username": ("username", "any", False),
    "sweep": ("sweep_name", "any", False),
    "sweepName": ("sweep_name", "any", False),
    "createdAt": ("created_at", "date", True),
    "created_at": ("created_at", "date", True),
    "heartbeatAt": ("heartbeat_at", "date", False),
    "heartbeat_at": ("heartbeat_at", "date", False),
    "updatedAt": ("updated_at", "date", False),
    "updated_at": ("updated_at", "date", False),
}
_JSON_PREFIXES = {
    "config.": "config",
    "summary_metrics.": "summary_metrics",
    "summaryMetrics.": "summary_metrics",
}


def _segments(field: str, rest: str, error: type[ListingError]) -> list[str]:
    segments = rest.split(".")
    for seg in segments:
        if not seg:
            raise error(
                f"field {show(field)} has an empty key; accepted: dotted keys like "
                '"config.optimizer.lr" or "summary_metrics.val.acc"'
            )
        # SQLite JSON paths cannot address keys holding these characters.
        if any(
            ch in '"\\' or ord(ch) < 0x20 or 0xD800 <= ord(ch) < 0xE000 for ch in seg
        ):
            raise error(
                f"field {show(field)} has a key with a double quote, backslash, "
                "control character or lone surrogate; such keys cannot be "
                "filtered or sorted on"
            )
    return segments


def _json_path(segments: list[str]) -> str:
    return "$" + "".join(f'."{seg}"' for seg in segments)


def resolve_field(
    field: str, error: type[ListingError]
) -> ColumnSource | DurationSource | JsonSource | TagsField:
    """The source a filter or order field name denotes; ``error`` if none."""
    if field in _COLUMNS:
        column, domain, not_null = _COLUMNS[field]
        return ColumnSource(column, domain, column, not_null)
    if field == "duration":
        return DurationSource("duration", "number")
    if field == "tags":
        return TagsField()
    for prefix, column in _JSON_PREFIXES.items():
        if field.startswith(prefix):
            segments = _segments(field, field[len(prefix) :], error)
            if column == "config":
                # Config keys are stored wrapped: {"lr": {"value": 0.1}}.
                # "config.lr" and "config.lr.value" both mean the wrapped value.
                if len(segments) > 1 and segments[1] == "value":
                    del segments[1]
                path = _json_path([segments[0], "value", *segments[1:]])
            else:
                path = _json_path(segments)
            canonical = f"{column}.{'.'.join(segments)}"
            return JsonSource(canonical, "any", f"{column}_q", path)
    raise error(f"unknown field {show(field)}; accepted: {ACCEPTED_FIELDS}")
