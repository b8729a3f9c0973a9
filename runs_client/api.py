"""``Api``: the entry point, holding one connection pool and the retrying client."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from runs_gql import ViewerViewer

from . import run_writes
from ._exceptions import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    RequestInfo,
)
from ._paths import (
    PROJECT_PATH_FORMS,
    parse_project_path,
    parse_run_path,
    parse_sweep_path,
)
from .api_settings import (
    check_entity,
    check_project_name,
    check_runs_args,
    open_http,
    resolve_settings,
)
from .project import Project, fetch_project, iter_projects
from .run import Run
from .runs import Runs, fetch_run
from .sweep import Sweep, fetch_sweep
from .transport import deadline as deadline_backend
from .transport import flows
from .transport.constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    NOT_GIVEN,
    NotGiven,
)
from .transport.credentials import (
    ENV_ENTITY,
    ENV_PROJECT,
    env_value,
)
from .transport.retrying import RetryingClient

__all__ = ["Api"]


class Api:
    """Read runs from W&B or any W&B-compatible server.

    Settings come from the arguments, then W&B's environment variables, then
    the netrc file, as the official SDK does:

    - ``api_key``: ``WANDB_API_KEY``, then the netrc entry for the base URL's
      host. With no key, no Authorization header is sent at all.
    - ``base_url``: ``WANDB_BASE_URL``, else ``https://api.wandb.ai``.
    - ``timeout``: seconds, an ``httpx.Timeout``, or None for none; by default
      ``WANDB_HTTP_TIMEOUT`` or ``DEFAULT_TIMEOUT``. It bounds each wait (to
      connect, for the next bytes), not the whole answer.
    - ``deadline``: seconds one attempt may take in all, however the server
      drips its answer; by default ``DEADLINE_FACTOR`` (3) times the read
      timeout, none when the timeout is None. A late attempt is retried, then
      raises ``TimeoutError``.
    - ``max_response_bytes``: the largest answer accepted, decompressed
      (default 1 GiB, far above any real page); larger raises ``ServerError``.
    - ``max_retries``: retries of transient failures (429, 5xx, dropped
      connections, timeouts) after the first attempt.
    - ``verify``, ``proxy``: TLS and proxy settings for self-hosted servers; the
      usual ``HTTPS_PROXY`` and CA bundle variables also work.
    - ``default_entity``: used when a path names no entity; else
      ``WANDB_ENTITY``, else the viewer's entity (asked once, when first needed).

    Close it with ``close()`` or use it as a context manager.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float | None | NotGiven = NOT_GIVEN,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        verify: bool | str | ssl.SSLContext = True,
        proxy: str | None = None,
        default_entity: str | None = None,
    ) -> None:
        settings = resolve_settings(
            api_key, base_url, timeout=timeout, max_retries=max_retries,
            deadline=deadline, max_response_bytes=max_response_bytes,
            verify=verify, proxy=proxy, default_entity=default_entity,
        )  # fmt: skip
        self.base_url = settings.base_url
        self._http = open_http(httpx.Client, settings)
        # The deadline covers each whole attempt, response head included.
        deadline_backend.install(self._http)
        self._has_key = settings.key is not None
        #: The retrying generated client; ``Runs`` and ``Run`` make requests with it.
        self.client = RetryingClient(
            settings.graphql_url,
            self._http,
            max_retries=settings.max_retries,
            deadline=settings.deadline,
            max_response_bytes=settings.max_response_bytes,
        )
        self._default_entity = settings.default_entity
        self._viewer: ViewerViewer | None = None

    def __repr__(self) -> str:
        key = "set" if self._has_key else "none"
        return f"Api(base_url={self.base_url!r}, api_key={key})"

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. The ``Api`` cannot make requests after."""
        self._http.close()

    @property
    def viewer(self) -> ViewerViewer:
        """The user the API key belongs to (asked once, then cached).

        Raises:
            AuthenticationError: the server knows no user for this key (or none
                was given).
        """
        if self._viewer is None:
            viewer = self.client.viewer().viewer
            if viewer is None:
                raise AuthenticationError(
                    f"{self.base_url} returned no viewer: "
                    + (
                        "it does not recognise this API key."
                        if self._has_key
                        else "no API key was given. Pass api_key=..., set "
                        "WANDB_API_KEY, or add the host to your netrc file."
                    ),
                    request=self._viewer_request(),
                )
            self._viewer = viewer
        return self._viewer

    def _viewer_request(self) -> RequestInfo:
        return RequestInfo("POST", self.client.url, "Viewer")

    @property
    def default_entity(self) -> str:
        """``default_entity``, else ``WANDB_ENTITY``, else the viewer's entity."""
        if self._default_entity is None:
            entity = self.viewer.entity
            if not entity:
                raise NotFoundError(
                    f"{self.base_url} knows no default entity for this user; "
                    f"name it in the path ('entity/project'), set {ENV_ENTITY}, "
                    "or pass Api(default_entity=...).",
                    request=self._viewer_request(),
                )
            self._default_entity = entity
        return self._default_entity

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int | None = None,
        include_sweeps: bool = True,
        lazy: bool = False,
    ) -> Runs:
        """The runs of a project, lazily paged, optionally filtered and ordered.

        Args:
            path: ``"entity/project"`` or ``"project"``; ``WANDB_PROJECT`` if None.
            filters: a MongoDB-style query, e.g. ``{"state": "finished"}``.
            order: ``+`` or ``-`` then a field, e.g. ``"-summary_metrics.loss"``.
            per_page: runs per request (at least 1); None sizes pages by a
                byte budget: 50 runs, up to the server's advertised page cap
                for lazy runs (see ``runs_client.run_listing``).
            include_sweeps: fetch each distinct sweep once and set ``run.sweep``.
            lazy: list runs without config, summary and system metrics; the
                first read of one of them loads them for the run's whole page
                in one request (as the SDK's ``lazy=True``, which loads them
                run by run).

        Raises:
            InvalidArgumentError: a malformed argument; nothing was sent.
        """
        if path is None:
            path = env_value(ENV_PROJECT)
            if path is None:
                forms = " or ".join(f"'{f}'" for f in PROJECT_PATH_FORMS)
                raise InvalidArgumentError(
                    f"No project given: pass a path ({forms}) or set {ENV_PROJECT}."
                )
        where = parse_project_path(path)
        check_runs_args(filters, order, per_page, include_sweeps)
        entity = where.entity or self.default_entity

        return Runs(
            self.client,
            entity,
            where.project,
            filters=filters,
            order=order,
            per_page=per_page,
            include_sweeps=include_sweeps,
            lazy=lazy,
        )

    def run(self, path: str) -> Run:
        """One run, by ``entity/project/run_id`` (or ``entity/project/runs/run_id``,
        ``entity/project:run_id``, ``project/run_id``).

        Raises:
            InvalidArgumentError: a malformed path; nothing was sent.
            NotFoundError: no such project or run.
        """
        where = parse_run_path(path)
        entity = where.entity or self.default_entity

        return fetch_run(self.client, entity, where.project, where.run_id)

    def create_run(
        self,
        *,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
        state: str = "running",
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        notes: str | None = None,
        name: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
    ) -> Run:
        """Create a run, as the official SDK's ``Api.create_run`` does: in
        ``project`` (``"uncategorized"`` if None, created if new) of ``entity``
        (the default entity if None), with ``run_id`` (8 random characters if
        None). The keyword-only extras set its first fields. A run that
        exists already is updated with the fields given.

        Raises:
            InvalidArgumentError: a malformed argument; nothing was sent.
            GraphQLError: the server refused (e.g. the key may not write there).
        """
        new = run_writes.new_run(
            run_id=run_id, project=project, state=state, config=config, tags=tags,
            notes=notes, name=name, group=group, job_type=job_type,
        )  # fmt: skip
        entity = entity or self.default_entity
        fields = flows.run(self.client, run_writes.create_run(entity, new))
        return Run(self.client, entity, new.project, fields)

    def projects(self, entity: str | None = None) -> list[Project]:
        """The projects of ``entity`` (the default entity if None) the caller
        may read, oldest first.

        Raises:
            InvalidArgumentError: ``entity`` is not a non-empty string.
            NotFoundError: the server lists no projects for that entity.
        """
        entity = self._entity_arg(entity)

        return list(iter_projects(self.client, entity))

    def project(self, name: str, entity: str | None = None) -> Project:
        """One project by name, in ``entity`` (the default entity if None).

        Raises:
            InvalidArgumentError: a malformed name or entity; nothing was sent.
            NotFoundError: no such project (or one the caller may not read).
        """
        name = check_project_name(name)
        entity = self._entity_arg(entity)

        return fetch_project(self.client, entity, name)

    def _entity_arg(self, entity: object) -> str:
        return check_entity(entity) or self.default_entity

    def sweep(self, path: str) -> Sweep:
        """One sweep, by ``entity/project/sweep_id`` (or ``.../sweeps/sweep_id``,
        ``entity/project:sweep_id``, ``project/sweep_id``).

        Raises:
            InvalidArgumentError: a malformed path; nothing was sent.
            NotFoundError: no such project or sweep.
        """
        where = parse_sweep_path(path)
        entity = where.entity or self.default_entity

        sweep = fetch_sweep(
            self.client, entity, where.project, where.run_id, runs_factory=Runs
        )
        if sweep is None:
            raise NotFoundError(
                f"Sweep {entity}/{where.project}/{where.run_id} not found."
            )
        return sweep
