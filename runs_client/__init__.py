"""runs_client: a typed, fast client for the W&B runs API.

Start with ``Api``::

    import runs_client

    api = runs_client.Api()  # WANDB_API_KEY / netrc, WANDB_BASE_URL
    runs = api.runs("entity/project", filters={"state": "finished"})
    print(len(runs), runs[0].config, runs[-3:])
"""

from __future__ import annotations

from importlib import metadata as _metadata

from runs_gql import RunFields, RunFieldsUser, ViewerViewer

from ._exceptions import (
    AuthenticationError,
    ConnectionError,
    GraphQLError,
    IncompleteHistoriesError,
    InvalidArgumentError,
    NotFoundError,
    RateLimitError,
    RequestInfo,
    RunsClientError,
    ServerError,
    ServerGraphQLError,
    TimeoutError,
    TransientError,
)
from .aio import AsyncApi, AsyncRun, AsyncRuns, AsyncSweep, aruns_frame
from .api import Api
from .history.bulk import BulkHistoryWarning
from .history.chunks import ColumnType, Schema
from .history.histories import Format, HistoryBatch
from .history.pages import Join
from .history_dataset import DatasetResult, write_history_dataset, write_run_partitions
from .key_hints import KeyWarning
from .project import Project
from .run import Run, RunUser
from .run_table import runs_frame
from .runs import Runs
from .sweep import Sweep
from .transport.async_retrying import AsyncRetryingClient
from .transport.constants import (
    DEADLINE_FACTOR,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
)
from .transport.retrying import RetryingClient

try:
    __version__ = _metadata.version("runs-client")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DEADLINE_FACTOR",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "Api",
    "AsyncApi",
    "AsyncRetryingClient",
    "AsyncRun",
    "AsyncRuns",
    "AsyncSweep",
    "AuthenticationError",
    "BulkHistoryWarning",
    "ColumnType",
    "ConnectionError",
    "DatasetResult",
    "Format",
    "GraphQLError",
    "HistoryBatch",
    "IncompleteHistoriesError",
    "InvalidArgumentError",
    "Join",
    "KeyWarning",
    "NotFoundError",
    "NotGiven",
    "Project",
    "RateLimitError",
    "RequestInfo",
    "RetryingClient",
    "Run",
    "RunFields",
    "RunFieldsUser",
    "RunUser",
    "Runs",
    "RunsClientError",
    "Schema",
    "ServerError",
    "ServerGraphQLError",
    "Sweep",
    "TimeoutError",
    "TransientError",
    "ViewerViewer",
    "__version__",
    "aruns_frame",
    "runs_frame",
    "write_history_dataset",
    "write_run_partitions",
]
