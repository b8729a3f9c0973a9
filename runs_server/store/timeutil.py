"""Timestamps as the store keeps them: zone-less UTC ISO-8601 strings."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(value: datetime | str | None) -> str | None:
    """``2024-05-01T12:00:00``: W&B's DateTime form, which sorts as text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
