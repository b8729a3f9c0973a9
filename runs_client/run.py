"""``Run``: one W&B run with typed attributes, its history and step scans."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

import pandas as pd
import runs_gql
from runs_gql import RunFields, RunListFields

from . import run_writes
from .history.frames import Columns
from .history.run_rows import (
    Stream,
    check_history_args,
    check_scan_args,
    history_keys_flow,
    rows_flow,
    scan_steps,
)
from .sweep import Sweep, SweepInfo, app_url
from .transport.flows import Flow, Steps, iterate, run
from .transport.jsonio import loads_object

__all__ = ["Run", "RunBase", "RunUser", "history_frame"]

# Config keys W&B keeps for itself; left out of ``Run.config`` as in the SDK.
_INTERNAL_CONFIG_KEYS = frozenset({"_wandb", "wandb_version"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class RunUser:
    """The user who created the run."""

    name: str | None
    username: str | None


def _unwrap_config(raw: dict[str, Any]) -> dict[str, Any]:
    # Each top-level value is stored as {"value": v, "desc": ...}.
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _INTERNAL_CONFIG_KEYS:
            continue
        is_wrapped = isinstance(value, dict) and "value" in value
        config[key] = value["value"] if is_wrapped else value
    return config


class _HasUrl(Protocol):
    @property
    def url(self) -> str: ...


ClientT = TypeVar("ClientT", bound=_HasUrl)
SweepT = TypeVar("SweepT", bound=SweepInfo)


def history_frame(
    rows: list[dict[str, Any]], pandas: bool
) -> pd.DataFrame | list[dict[str, Any]]:
    """``Run.history``'s answer: the rows, or one DataFrame of them."""
    if not pandas:
        return rows
    columns = Columns(with_run_id=False)
    columns.add_run(rows)
    return columns.to_pandas()


class RunBase(Generic[ClientT, SweepT]):
    """A single run, built from the generated ``RunFields`` fragment: what
    ``Run`` and ``AsyncRun`` both hold, and the flows of their history reads.

    Naming follows the W&B SDK: ``id`` is the run id (GraphQL ``name``, the
    short hash in URLs), ``storage_id`` the opaque GraphQL ``id``, and ``name``
    the human display name.
    """

    id: str
    storage_id: str
    name: str | None
    display_name: str | None
    state: str
    tags: list[str]
    group: str | None
    job_type: str | None
    notes: str | None
    description: str | None
    commit: str | None
    host: str | None
    created_at: datetime
    heartbeat_at: datetime | None
    updated_at: datetime | None
    user: RunUser | None
    sweep_name: str | None
    sweep: SweepT | None
    history_keys: dict[str, Any]
    history_line_count: int | None
    read_only: bool | None
    project_id: int | None
    entity: str
    project: str

    def __init__(
        self,
        client: ClientT,
        entity: str,
        project: str,
        fields: RunFields | RunListFields,
        *,
        sweep: SweepT | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self.sweep = sweep
        # A lazy run's loader of its page's config, summary and system
        # metrics (``Runs(lazy=True)``); None once they are held.
        self._heavy_loader: Callable[[], None] | None = None
        self._set_fields(fields)

    def _set_fields(self, fields: RunFields | RunListFields) -> None:
        self.id = fields.name
        self.storage_id = fields.id
        self.name = fields.display_name
        self.display_name = fields.display_name
        self.state = fields.state or "unknown"
        self._set_heavy(
            getattr(fields, "config", None),
            getattr(fields, "summary_metrics", None),
            getattr(fields, "system_metrics", None),
        )
        self.tags = list(fields.tags or [])
        self.group = fields.group
        self.job_type = fields.job_type
        self.notes = fields.notes
        self.description = fields.description
        self.commit = fields.commit
        self.host = fields.host
        # createdAt is always set by W&B; the epoch only keeps the type honest.
        self.created_at = fields.created_at or _EPOCH
        self.heartbeat_at = fields.heartbeat_at
        self.updated_at = fields.updated_at
        self.user = (
            RunUser(name=fields.user.name, username=fields.user.username)
            if fields.user is not None
            else None
        )
        self.sweep_name = fields.sweep_name
        keys = fields.history_keys
        self.history_keys = keys if isinstance(keys, dict) else {}
        self._history_keys_known = "lastStep" in self.history_keys
        self.history_line_count = fields.history_line_count
        self.read_only = fields.read_only
        self.project_id = fields.project_id

    def _set_heavy(
        self, config: str | None, summary: str | None, system: str | None
    ) -> None:
        """Set config, summary and system metrics from their JSON texts."""
        self._rawconfig = loads_object(config)
        self._config = _unwrap_config(self._rawconfig)
        self._summary = loads_object(summary)
        self._system_metrics = loads_object(system)

    def _heavy(self) -> None:
        loader = self._heavy_loader
        if loader is not None:
            loader()  # sets every run of the page and clears their loaders

    def load_full_data(self) -> None:
        """Load a lazy run's config, summary and system metrics now (with
        those of every run of its page, in one request); nothing for a run
        that holds them already. As the SDK's ``Run.load_full_data()``."""
        self._heavy()

    @property
    def config(self) -> dict[str, Any]:
        """The config, without W&B's internal keys and ``value`` wrappers."""
        self._heavy()
        return self._config

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self._config = value

    @property
    def rawconfig(self) -> dict[str, Any]:
        """The config as stored: ``{"key": {"value": v, "desc": ...}}``."""
        self._heavy()
        return self._rawconfig

    @rawconfig.setter
    def rawconfig(self, value: dict[str, Any]) -> None:
        self._rawconfig = value

    @property
    def summary(self) -> dict[str, Any]:
        """The summary metrics."""
        self._heavy()
        return self._summary

    @summary.setter
    def summary(self, value: dict[str, Any]) -> None:
        self._summary = value

    @property
    def system_metrics(self) -> dict[str, Any]:
        """The system metrics."""
        self._heavy()
        return self._system_metrics

    @system_metrics.setter
    def system_metrics(self, value: dict[str, Any]) -> None:
        self._system_metrics = value

    @property
    def last_step(self) -> int | None:
        """The last logged ``_step`` (``historyKeys.lastStep``), None if unknown."""
        step = self.history_keys.get("lastStep")
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            return int(step)
        return None

    @property
    def path(self) -> list[str]:
        """``[entity, project, run_id]``."""
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        """The run's page in the W&B app."""
        return f"{app_url(self.client.url)}/{self.entity}/{self.project}/runs/{self.id}"

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"

    def _update_flow(self, **changes: Any) -> Flow[None]:
        """``update``'s flow (arguments checked before anything is sent);
        this object then holds the run as stored."""
        fields = yield from run_writes.update_run(
            self.storage_id, self.rawconfig, self.summary, **changes
        )
        self._set_fields(fields)

    def _rows_flow(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        stream: Stream,
    ) -> Flow[list[dict[str, Any]]]:
        check_history_args(samples, keys, x_axis, stream)
        return rows_flow(
            self.entity,
            self.project,
            self.id,
            samples=samples,
            keys=keys,
            x_axis=x_axis,
            stream=stream,
        )

    def _scan_steps(
        self,
        keys: list[str] | None,
        page_size: int,
        min_step: int,
        max_step: int | None,
    ) -> Steps[dict[str, Any]]:
        if not self._history_keys_known:
            # Asked once, only when the run came without its history keys.
            self.history_keys = yield from history_keys_flow(
                self.entity, self.project, self.id
            )
            self._history_keys_known = True
        last = self.last_step
        if last is None:
            return
        stop = last + 1 if max_step is None else min(max_step, last + 1)
        yield from scan_steps(
            self.entity,
            self.project,
            self.id,
            keys=keys,
            page_size=page_size,
            min_step=min_step,
            stop_step=stop,
        )


class Run(RunBase[runs_gql.Client, Sweep]):
    """A single run (see ``RunBase``), read with the sync client."""

    def update(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        notes: str | None = None,
        name: str | None = None,
        group: str | None = None,
    ) -> None:
        """Write the given fields to the server; this object then shows the run
        as stored. ``config`` and ``summary`` set their keys and keep the
        others (as this object holds them); ``tags`` replaces the list;
        ``name`` is the display name. An argument left None is not changed.

        Raises:
            InvalidArgumentError: a malformed argument; nothing was sent.
            GraphQLError: the server refused (e.g. the key may not write here).
        """
        flow = self._update_flow(
            config=config, summary=summary, tags=tags, notes=notes, name=name,
            group=group,
        )  # fmt: skip
        run(self.client, flow)

    def delete(self) -> None:
        """Delete the run on the server, with its history, events and files."""
        run(self.client, run_writes.delete_run(self.storage_id))

    def stop(self) -> None:
        """Ask the process logging the run to stop it, as W&B's "Stop run"
        button does: the SDK sees ``RunStoppedStatus`` turn true."""
        run(self.client, run_writes.stop_run(self.storage_id))

    @overload
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: Literal[True] = True,
        stream: Stream = "default",
    ) -> pd.DataFrame: ...

    @overload
    def history(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        pandas: Literal[False],
        stream: Stream = "default",
    ) -> list[dict[str, Any]]: ...

    @overload
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        pandas: Literal[False],
        stream: Stream = "default",
    ) -> list[dict[str, Any]]: ...

    @overload
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: Stream = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]: ...

    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: Stream = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """Sampled history of this run, as the SDK's ``Run.history``.

        Args:
            samples: at most this many rows.
            keys: only rows holding all these keys (and ``x_axis``), projected
                to them; None (or ``[]``) for full rows.
            x_axis: the key every row holds with ``keys``; rows stay in step
                order.
            pandas: a DataFrame (True) or a list of row dicts (False).
            stream: "default" for logged metrics, "system" for system metrics
                (ordered by ``_timestamp``; ``keys`` not allowed).

        Raises:
            InvalidArgumentError: a bad argument, before any request.
        """
        rows = run(self.client, self._rows_flow(samples, keys, x_axis, stream))
        return history_frame(rows, pandas)

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Iterate over every history row (unsampled) in step order.

        Rows are fetched at most ``page_size`` at a time, in windows of steps
        from ``min_step`` (default 0) up to ``max_step`` (exclusive; default
        and cap: the last logged step + 1) that grow over steps nothing was
        logged at, so steps far apart (counting tokens) cost no more requests
        than steps next to each other. With ``keys``, only rows holding all of them are
        yielded, holding just those keys.

        Raises:
            InvalidArgumentError: a bad argument, before any request.
        """
        check_scan_args(keys, page_size, min_step, max_step)
        return self._scan(keys, page_size, min_step or 0, max_step)

    def _scan(
        self,
        keys: list[str] | None,
        page_size: int,
        min_step: int,
        max_step: int | None,
    ) -> Iterator[dict[str, Any]]:
        return iterate(
            self.client, self._scan_steps(keys, page_size, min_step, max_step)
        )
