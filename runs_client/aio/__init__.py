"""The async client: ``AsyncApi`` and the objects it gives, with the surface
of ``Api``'s adapted to ``await``.

A room above the domain objects: it builds on their shared cores
(``RunsCore``, ``RunBase``, ``SweepInfo``, the settings) and runs the same
flows (``transport.flows``) on ``AsyncRetryingClient``; nothing below
imports it.
"""

from __future__ import annotations

from .api import AsyncApi
from .runs import AsyncRun, AsyncRuns, AsyncSweep
from .table import aruns_frame

__all__ = ["AsyncApi", "AsyncRun", "AsyncRuns", "AsyncSweep", "aruns_frame"]
