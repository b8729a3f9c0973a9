"""How ``histories()`` pages, public for ``runs_mirror``: the row budget,
requests in flight, and the refusals that mean "ask for less" or "ask run by
run", and step windows that adapt to the gaps between steps. The policy
itself lives in ``runs_client.history.policy``."""

from runs_client.history.policy import (
    MAX_IN_FLIGHT,
    ROW_BUDGET,
    StepWindows,
    is_too_large,
    refuses_bulk,
)

__all__ = ["MAX_IN_FLIGHT", "ROW_BUDGET", "StepWindows", "is_too_large", "refuses_bulk"]
