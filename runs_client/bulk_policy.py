"""How ``histories()`` pages runs with their history, for tools that fetch the
same way (``runs_mirror``): the row budget of one request, the requests kept
in flight, and how a refused page is recognised (too large or timed out: ask
it as halves; history fields refused on the runs connection: ask per run).
"""

from runs_client._bulk import MAX_IN_FLIGHT, ROW_BUDGET, is_too_large, refuses_bulk

__all__ = ["MAX_IN_FLIGHT", "ROW_BUDGET", "is_too_large", "refuses_bulk"]
