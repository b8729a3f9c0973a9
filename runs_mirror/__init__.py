"""runs_mirror: a faithful, incremental local copy of a W&B project.

Reads through ``runs_client`` (any W&B-compatible server) and writes through
``runs_server.store``; neither of those knows about this package::

    import runs_client
    from runs_mirror import mirror_project
    from runs_server.store import Store

    with runs_client.Api(base_url="https://api.wandb.ai") as api:
        with Store("copy.db") as store:
            summary = mirror_project(api, "entity/project", store)
    print(summary.describe())

Then ``runs-client serve --db copy.db`` serves the copy to the official SDK,
our client and the CLI, offline.

Modules: ``plan`` (what changed since the last sync, and the requests that
fetch it), ``source`` (the requests), ``write`` (one store transaction per
page), ``mirror`` (the loop, progress, the closing ``MirrorSummary``),
``errors``.
"""

from runs_mirror.errors import MirrorError
from runs_mirror.mirror import mirror_project
from runs_mirror.summary import MirrorSummary

__all__ = ["MirrorError", "MirrorSummary", "mirror_project"]
