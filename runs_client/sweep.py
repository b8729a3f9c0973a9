"""``Sweep``: a typed, read-only view of one W&B sweep."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import runs_gql
import yaml
from runs_gql import SweepByNameProjectSweep as SweepFields

from ._exceptions import InvalidArgumentError, NotFoundError
from .transport.flows import Flow, call, run

if TYPE_CHECKING:  # types only: runs.py builds sweeps, so no import back
    from .run import Run
    from .runs import Runs

# Builds the ``Runs`` of a sweep: ``Runs`` itself, handed in by whoever
# fetches the sweep (runs.py, api.py), so that this module needs no import
# of runs.py at run time.
RunsFactory = Callable[..., "Runs"]

__all__ = ["Sweep", "SweepInfo", "app_url", "fetch_sweep", "sweep_flow"]

# libyaml's safe loader when built in (faster), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SweepInfo:
    """A sweep of a project, as ``SweepByName`` returns it: what ``Sweep``
    and ``AsyncSweep`` both hold.

    ``config`` is the sweep configuration parsed from YAML, as W&B stores it
    (JSON is a subset). ``raw_config`` keeps the text; a config that is not a
    YAML mapping gives ``config == {}``.
    """

    id: str
    name: str
    display_name: str | None
    method: str | None
    state: str | None
    description: str | None
    config: dict[str, Any]
    raw_config: str | None
    best_loss: float | None
    run_count: int | None
    run_count_expected: int | None
    created_at: datetime | None
    updated_at: datetime | None
    entity: str
    project: str

    def __init__(
        self,
        fields: SweepFields,
        entity: str,
        project: str,
        *,
        base_url: str = "https://api.wandb.ai",
    ) -> None:
        self.id = fields.id
        self.name = fields.name
        self.display_name = fields.display_name
        self.method = fields.method
        self.state = fields.state
        self.description = fields.description
        self.raw_config = fields.config
        self.config = _parse_config(fields.config)
        self.best_loss = fields.best_loss
        self.run_count = fields.run_count
        self.run_count_expected = fields.run_count_expected
        self.created_at = fields.created_at
        self.updated_at = fields.updated_at
        self.entity = entity
        self.project = project
        self._app_url = app_url(base_url)

    def best_query(self, order: str | None) -> tuple[dict[str, Any], str]:
        """The filters and order of ``best_run``: the sweep's runs that hold
        the ordering key, by ``order`` or else the config's metric (see
        ``_metric_order``). With neither, the most recent run, with a warning,
        as the official SDK 0.31 does."""
        filters: dict[str, Any] = {"sweep": self.name}
        if order is None:
            order = self._metric_order()
        if order is None:
            warnings.warn(
                f"sweep {self.name} names no metric in its config and no order "
                "was given: returning the most recent run (pass "
                "best_run(order='-summary_metrics.acc') or similar for the best)",
                stacklevel=3,
            )
            order = "-created_at"
        key = order.lstrip("+-").strip()
        if key.startswith(("summary_metrics.", "config.")):
            filters = {"$and": [filters, {key: {"$exists": True}}]}
        return filters, order

    def _metric_order(self) -> str | None:
        """``+summary_metrics.<metric>`` (``-`` to maximize) from the config."""
        metric = self.config.get("metric")
        name = metric.get("name") if isinstance(metric, dict) else None
        if not isinstance(name, str) or not name:
            return None
        goal = metric.get("goal") if isinstance(metric, dict) else None
        return f"{'-' if goal == 'maximize' else '+'}summary_metrics.{name}"

    @property
    def path(self) -> list[str]:
        """``[entity, project, sweep_name]``."""
        return [self.entity, self.project, self.name]

    @property
    def url(self) -> str:
        """The sweep's page in the W&B app."""
        return f"{self._app_url}/{self.entity}/{self.project}/sweeps/{self.name}"

    def __repr__(self) -> str:
        state = f" ({self.state})" if self.state else ""
        return f"<Sweep {'/'.join(self.path)}{state}>"


class Sweep(SweepInfo):
    """A sweep of a project, with its runs (see ``SweepInfo``)."""

    def __init__(
        self,
        fields: SweepFields,
        entity: str,
        project: str,
        *,
        base_url: str = "https://api.wandb.ai",
        client: runs_gql.Client | None = None,
        runs_factory: RunsFactory | None = None,
    ) -> None:
        super().__init__(fields, entity, project, base_url=base_url)
        self._client = client
        self._runs_factory = runs_factory

    @property
    def runs(self) -> Runs:
        """The sweep's runs (a ``Runs``, lazily paged, oldest first)."""
        return self._runs(filters={"sweep": self.name}, include_sweeps=False)

    def best_run(self, order: str | None = None) -> Run | None:
        """The sweep's best run, or None when it has none.

        ``order`` defaults to the sweep config's metric: ``{"metric": {"name":
        "loss", "goal": "minimize"}}`` gives ``+summary_metrics.loss``. Only
        runs holding the ordering key count (a run lacking it is never the
        best); among them, runs whose value is NaN come after every number.

        When no order is given and the config names no metric, the most recent
        run is returned with a warning, as the official SDK 0.31 does.
        """
        filters, order = self.best_query(order)
        runs = self._runs(
            filters=filters,
            order=order,
            per_page=1,
            include_sweeps=False,
        )
        return runs[0] if len(runs) else None

    def _runs(self, **options: Any) -> Runs:
        if self._client is None or self._runs_factory is None:
            raise InvalidArgumentError(
                "this Sweep was built without a client; get it from Api.sweep(path)"
            )
        return self._runs_factory(self._client, self.entity, self.project, **options)


def app_url(api_url: str) -> str:
    """The W&B app's base URL for an API URL (with or without ``/graphql``).

    Hosted W&B serves its API on ``api.wandb.ai`` and its app on ``wandb.ai``;
    self-hosted and local servers serve both from the same base URL.
    """
    base = api_url.rstrip("/")
    base = base.removesuffix("/graphql")
    parts = urlsplit(base)
    if parts.hostname == "api.wandb.ai":
        return urlunsplit((parts.scheme or "https", "wandb.ai", "", "", ""))
    return base


def _parse_config(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def sweep_flow(entity: str, project: str, name: str) -> Flow[SweepFields | None]:
    """One sweep's fields by name; ``None`` when the project has no such sweep.

    Raises:
        NotFoundError: the project ``entity/project`` does not exist.
    """
    result: runs_gql.SweepByName = yield call(
        "sweep_by_name", entity=entity, project=project, name=name
    )
    if result.project is None:
        raise NotFoundError(f"Project {entity}/{project} not found.")
    return result.project.sweep


def fetch_sweep(
    client: runs_gql.Client,
    entity: str,
    project: str,
    name: str,
    *,
    runs_factory: RunsFactory | None = None,
) -> Sweep | None:
    """Fetch one sweep by name; ``None`` when the project has no such sweep.

    ``runs_factory`` (``Runs``) gives the sweep its ``runs`` and ``best_run``.

    Raises:
        NotFoundError: the project ``entity/project`` does not exist.
    """
    fields = run(client, sweep_flow(entity, project, name))
    if fields is None:
        return None
    return Sweep(
        fields,
        entity,
        project,
        base_url=client.url,
        client=client,
        runs_factory=runs_factory,
    )
