"""One guard for every paged walk (runs, projects, run names, the mirror's
listing), so that no server, broken or lying, can make a walk page for ever,
hold more than it asked for, or hand the same item over twice.

A walk asks ``check`` about each page before it uses it, then ``record``s
the page once it has been used (a page whose use failed is asked again and
must not then look like a repeat of itself).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from .._exceptions import ServerError

__all__ = ["COUNT_MARGIN_SHARE", "DuplicateItemWarning", "PageGuard"]

# Runs may be added while we page, so more runs than the count promised are
# allowed by a margin: half the largest count seen, at least one page. Runs
# deleted after they were yielded lower the count while the runs added still
# come, so a busy project can legitimately yield well past its count (a tenth
# was too little: 200 runs added and 200 deleted while paging 1,000 tripped it).
COUNT_MARGIN_SHARE = 0.5


class DuplicateItemWarning(UserWarning):
    """A paged listing sent an item it had sent before; the repeat was skipped."""


class PageGuard:
    """Checks each page of one walk against what was asked, promised and seen.

    ``what`` names the walk in messages ("run pager for e/p"); ``noun`` its
    items ("runs"); ``per_page`` is the page size asked for.
    """

    def __init__(self, what: str, per_page: int, *, noun: str = "runs") -> None:
        self.what = what
        self.noun = noun
        self.per_page = per_page
        self.max_count: int | None = None
        self.held = 0
        self._seen: set[str] = set()
        self._cursors: set[str] = set()

    def check(
        self,
        ids: Sequence[str],
        *,
        has_next: bool,
        end_cursor: str | None,
        count: int | None = None,
    ) -> list[bool]:
        """Which items of this page are new (a repeat is False and warned
        about); ServerError for a page no honest pager sends.

        ``ids``: the page's item ids in order; ``count``: the total the server
        claims, if it sends one. Changes nothing until ``record``.
        """
        edges = len(ids)
        where = f"The server's {self.what}"
        if edges > self.per_page:
            raise ServerError(
                f"{where} sent {edges} {self.noun} for a page of {self.per_page}; "
                "refusing an answer larger than asked."
            )
        if has_next and edges == 0:
            raise ServerError(
                f"{where} sent an empty page that claims more (after {self.held} "
                f"{self.noun}); stopping instead of paging for ever."
            )
        if has_next and (end_cursor is None or end_cursor in self._cursors):
            raise ServerError(
                f"{where} did not advance (end cursor {end_cursor!r} after "
                f"{self.held} {self.noun}); stopping instead of looping."
            )
        fresh: list[bool] = []
        on_page: set[str] = set()
        for item in ids:
            fresh.append(item not in self._seen and item not in on_page)
            on_page.add(item)
        new = sum(fresh)
        if has_next and new == 0:
            raise ServerError(
                f"{where} sent a page of only {self.noun} it had sent before "
                f"(after {self.held} {self.noun}); stopping instead of paging "
                "for ever."
            )
        if new < edges:
            repeats = [item for item, f in zip(ids, fresh, strict=True) if not f]
            warnings.warn(
                f"{where} sent {len(repeats)} {self.noun} it had already sent "
                f"(first: {repeats[0]!r}); each is kept once.",
                DuplicateItemWarning,
                stacklevel=3,
            )
        if count is not None:
            self.max_count = max(self.max_count or 0, count)
        if self.max_count is not None:
            margin = max(self.per_page, int(self.max_count * COUNT_MARGIN_SHARE))
            if self.held + new > self.max_count + margin:
                raise ServerError(
                    f"{where} sent {self.held + new} {self.noun}, more than the "
                    f"{self.max_count} it counted (plus {margin} for {self.noun} "
                    "added meanwhile); stopping instead of paging for ever."
                )
        return fresh

    def record(
        self, ids: Sequence[str], fresh: Sequence[bool], end_cursor: str | None
    ) -> None:
        """Remember a page ``check`` admitted, once it has been used."""
        for item, new in zip(ids, fresh, strict=True):
            if new:
                self._seen.add(item)
                self.held += 1
        if end_cursor is not None:
            self._cursors.add(end_cursor)

    def admit(
        self,
        ids: Sequence[str],
        *,
        has_next: bool,
        end_cursor: str | None,
        count: int | None = None,
    ) -> list[bool]:
        """``check`` and ``record`` in one, for walks whose use cannot fail."""
        fresh = self.check(ids, has_next=has_next, end_cursor=end_cursor, count=count)
        self.record(ids, fresh, end_cursor)
        return fresh
