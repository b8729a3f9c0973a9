"""Scalar hooks for the generated models (copied into runs_gql)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_datetime(value: object) -> object:
    """Parse W&B's zone-less ISO timestamps as UTC-aware datetimes.

    Values that are not strings or datetimes are passed on unchanged so that
    pydantic reports them with its usual validation error.
    """
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
