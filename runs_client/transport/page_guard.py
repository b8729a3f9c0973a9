"""Sanity checks of the run pager's answers, so a broken server cannot make
``Runs`` page for ever or hold more than it asked for."""

from __future__ import annotations

from .._exceptions import ServerError

__all__ = ["PageGuard"]

# Runs may be added while we page, so more runs than the count promised are
# allowed by a margin: half the largest count seen, at least one page. Runs
# deleted after they were yielded lower the count while the runs added still
# come, so a busy project can legitimately yield well past its count (a tenth
# was too little: 200 runs added and 200 deleted while paging 1,000 tripped it).
COUNT_MARGIN_SHARE = 0.5


class PageGuard:
    """Checks each page of ``entity/project`` against what was asked and promised."""

    def __init__(self, entity: str, project: str, per_page: int) -> None:
        self.where = f"{entity}/{project}"
        self.per_page = per_page
        self.max_count: int | None = None

    def check(
        self, edges: int, has_next: bool, run_count: int | None, held: int
    ) -> None:
        """Raise ServerError for a page no honest pager sends.

        ``edges``: runs on this page; ``held``: runs held before it.
        """
        if edges > self.per_page:
            raise ServerError(
                f"The server's run pager for {self.where} sent {edges} runs for a "
                f"page of {self.per_page}; refusing an answer larger than asked."
            )
        if has_next and edges == 0:
            raise ServerError(
                f"The server's run pager for {self.where} sent an empty page that "
                f"claims more runs (after {held} runs); stopping instead of "
                "paging for ever."
            )
        if run_count is not None:
            self.max_count = max(self.max_count or 0, run_count)
        if self.max_count is not None:
            margin = max(self.per_page, int(self.max_count * COUNT_MARGIN_SHARE))
            if held + edges > self.max_count + margin:
                raise ServerError(
                    f"The server's run pager for {self.where} sent {held + edges} "
                    f"runs, more than the {self.max_count} it counted (plus "
                    f"{margin} for runs added meanwhile); stopping instead of "
                    "paging for ever."
                )
