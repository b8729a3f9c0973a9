"""What a run listing asks for, and how much at once.

A listing of named columns asks each run for only those config and summary
keys (``Run.config(keys:)``, ``Run.summaryMetrics(keys:)``); a lazy listing
asks for none, and loads config, summary and system metrics for a whole page
of runs in one request the first time one of them is read. Pages left to the
client's choice (``per_page=None``, ``Api.runs``'s default) hold as many runs
as a byte budget (``PAGE_BYTES``) allows, up to the page cap the server
advertises (``serverInfo.maxPageSize``, runs_server only, asked once per
client); against a server that advertises none (W&B) pages stay at 50 runs,
fewer if runs are large.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from typing import Any

import runs_gql

from ._exceptions import GraphQLError, ServerError
from .history.policy import is_too_large
from .transport.flows import Flow, call
from .transport.jsonio import dumps_compact

__all__ = [
    "ASSUMED_RUN_BYTES",
    "DEFAULT_PAGE",
    "LEAN_RUN_BYTES",
    "MAX_NAMES_PER_REQUEST",
    "PAGE_BYTES",
    "HeavyFields",
    "heavy_fields_flow",
    "next_page_size",
    "page_cap_flow",
    "run_bytes",
]

#: Runs per page when nothing better is known (W&B's default).
DEFAULT_PAGE = 50
#: The bytes one listing page aims at (config, summary and system metrics
#: texts plus ``RUN_OVERHEAD_BYTES`` per run, as measured on the pages read).
PAGE_BYTES = 8 * 1024 * 1024
#: Run fields besides config, summary and system metrics, per run (generous).
RUN_OVERHEAD_BYTES = 1024
#: The bytes of a run assumed before the first page says: a whole run (16 KiB:
#: the first full page is 512 runs), a lean one (the first lean page is the
#: server's cap, up to 8,192 runs). A page the server refuses as too large is
#: asked again at half the size.
ASSUMED_RUN_BYTES = 16 * 1024
LEAN_RUN_BYTES = RUN_OVERHEAD_BYTES
#: Bytes counted per history key a run lists in ``historyKeys``.
HISTORY_KEY_BYTES = 64
#: Run ids in one ``$in`` filter of a lazy page's load (runs_server's list cap).
MAX_NAMES_PER_REQUEST = 1000
# A cap a server advertises is trusted up to this many runs per page.
_MOST_TRUSTED_CAP = 10_000

# Per client: the page cap its server advertises (None: not advertised).
_CAPS: weakref.WeakKeyDictionary[object, int | None] = weakref.WeakKeyDictionary()

#: ``(config, summaryMetrics, systemMetrics)`` texts of one run.
HeavyFields = tuple[str | None, str | None, str | None]


def page_cap_flow(client: object) -> Flow[int | None]:
    """The most runs per page ``client``'s server advertises; None when it
    advertises none (W&B answers a GraphQL error). Asked once per client."""
    try:
        if client in _CAPS:
            return _CAPS[client]
    except TypeError:  # a client that cannot be weakly referenced: ask again
        pass
    cap: int | None = None
    try:
        result: runs_gql.ServerPageCap = yield call("server_page_cap")
    except Exception:  # any failure: no cap, pages of 50
        # W&B refuses the field (a GraphQL error); a transport failure here
        # shows again, with its own message, on the page request that follows.
        cap = None
    else:
        found = result.server_info.max_page_size if result.server_info else None
        if isinstance(found, int) and found >= 1:
            cap = min(found, _MOST_TRUSTED_CAP)
    with contextlib.suppress(TypeError):
        _CAPS[client] = cap
    return cap


def run_bytes(fields: Any) -> int:
    """The bytes a run's listing fields take, roughly (see ``PAGE_BYTES``)."""
    size = RUN_OVERHEAD_BYTES
    for name in ("config", "summary_metrics", "system_metrics"):
        text = getattr(fields, name, None)
        if isinstance(text, str):
            size += len(text)
    keys = fields.history_keys
    if isinstance(keys, dict) and isinstance(keys.get("keys"), dict):
        size += HISTORY_KEY_BYTES * len(keys["keys"])
    return size


def next_page_size(ceiling: int, largest_run: int) -> int:
    """Runs in the next page: ``ceiling``, fewer if runs of ``largest_run``
    bytes would make the page exceed ``PAGE_BYTES`` (at least one)."""
    if largest_run <= 0:
        return ceiling
    return max(1, min(ceiling, PAGE_BYTES // largest_run))


def heavy_fields_flow(
    entity: str, project: str, run_ids: Sequence[str]
) -> Flow[dict[str, HeavyFields]]:
    """Config, summary and system metrics of ``run_ids``, by run id: one
    request per ``MAX_NAMES_PER_REQUEST`` runs, each split in halves when
    the server refuses it as too large. A run the server no longer has is
    absent from the answer."""
    pending = [
        list(run_ids[i : i + MAX_NAMES_PER_REQUEST])
        for i in range(0, len(run_ids), MAX_NAMES_PER_REQUEST)
    ]
    found: dict[str, HeavyFields] = {}
    # Each refusal splits one chunk in two non-empty halves, so at most
    # 2 * len(run_ids) requests are sent in all.
    for _ in range(2 * len(run_ids) + 1):
        if not pending:
            return found
        chunk = pending.pop()
        try:
            result: runs_gql.RunsHeavyFields = yield call(
                "runs_heavy_fields",
                entity,
                project,
                filters=dumps_compact({"name": {"$in": chunk}}),
                per_page=len(chunk),
            )
        except GraphQLError as exc:
            if len(chunk) < 2 or not is_too_large(exc):
                raise
            half = len(chunk) // 2
            pending += [chunk[half:], chunk[:half]]
            continue
        runs = result.project.runs if result.project else None
        edges = runs.edges if runs else []
        if len(edges) > len(chunk):
            raise ServerError(
                f"The server sent {len(edges)} runs for the {len(chunk)} run ids "
                f"of a lazy page of {entity}/{project}; refusing an answer "
                "larger than asked."
            )
        asked = set(chunk)
        for edge in edges:
            node = edge.node
            if node.name in asked:
                found[node.name] = (
                    node.config,
                    node.summary_metrics,
                    node.system_metrics,
                )
    return found
    raise ServerError(  # unreachable: every refusal halves a chunk
        f"Loading a lazy page of {entity}/{project} did not end."
    )
