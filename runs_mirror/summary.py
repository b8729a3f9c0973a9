"""What one mirror did: the closing summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MirrorSummary:
    """Counts of one ``mirror_project`` call.

    ``gone`` are runs the copy holds that the source no longer lists (deleted
    upstream, or no longer matching the filters); ``pruned`` of them were
    removed (``prune=True``). ``requests`` counts GraphQL operations sent
    (retries of one operation by the transport are not counted again).
    """

    project: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: list[str] = field(default_factory=list)
    pruned: int = 0
    history_rows: int = 0
    event_rows: int = 0
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for people: what changed, what moved, how long."""
        lines = [
            f"Mirrored {self.project}: {self.new} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.pruned} pruned runs; "
            f"{self.history_rows:,} history rows, {self.event_rows:,} event rows; "
            f"{self.requests} requests, {human_size(self.bytes)} "
            f"in {self.seconds:.1f} s."
        ]
        kept = len(self.gone) - self.pruned
        if kept:
            shown = ", ".join(self.gone[:5]) + (" ..." if len(self.gone) > 5 else "")
            lines.append(
                f"{kept} run(s) in the copy are gone from the source ({shown}); "
                "pass --prune (prune=True) to remove them from the copy."
            )
        lines.extend(self.warnings)
        return "\n".join(lines)


def human_size(count: int) -> str:
    """``count`` bytes for people: ``512 B``, ``1.5 KB``, ... ``3.2 GB``."""
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
