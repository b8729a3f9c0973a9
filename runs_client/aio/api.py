"""``AsyncApi``: ``Api`` for ``asyncio`` (notebooks' top-level ``await``,
async services, many projects at once).

Same settings (arguments, environment, netrc), exceptions, retries with
``Retry-After``, deadline, response caps and pager guards as ``Api``, over
one ``httpx.AsyncClient`` pool (its connection limit bounds how many
requests are in flight at once). No thread and no event loop of its own:
it runs in the caller's loop, a running Jupyter loop included.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from runs_gql import ViewerViewer

from .. import run_writes
from .._exceptions import AuthenticationError, InvalidArgumentError, NotFoundError
from .._paths import (
    PROJECT_PATH_FORMS,
    parse_project_path,
    parse_run_path,
    parse_sweep_path,
)
from ..api_settings import (
    check_entity,
    check_project_name,
    check_runs_args,
    open_http,
    resolve_settings,
)
from ..project import Project, project_flow, project_pages
from ..runs_core import run_flow
from ..sweep import sweep_flow
from ..transport.async_retrying import AsyncRetryingClient
from ..transport.constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    NOT_GIVEN,
    NotGiven,
)
from ..transport.credentials import ENV_ENTITY, ENV_PROJECT, env_value
from ..transport.flows import aiterate, arun
from .runs import AsyncRun, AsyncRuns, AsyncSweep

__all__ = ["AsyncApi"]


class AsyncApi:
    """Read and write runs on W&B or any W&B-compatible server, with ``await``.

    Takes ``Api``'s arguments, with the same meaning and defaults. Close it
    with ``await api.aclose()`` or use ``async with AsyncApi() as api:``.

    ``api.runs(...)`` sends nothing, so it needs the entity without asking
    the server: name it in the path, pass ``default_entity``, set
    ``WANDB_ENTITY``, or ``await api.default_entity()`` once (asks the
    viewer's entity and keeps it).
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
        self._http = open_http(httpx.AsyncClient, settings)
        self._has_key = settings.key is not None
        #: The retrying async client; ``AsyncRuns`` and ``AsyncRun`` use it.
        self.client = AsyncRetryingClient(
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
        return f"AsyncApi(base_url={self.base_url!r}, api_key={key})"

    async def __aenter__(self) -> AsyncApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. The ``AsyncApi`` cannot make requests after."""
        await self._http.aclose()

    async def viewer(self) -> ViewerViewer:
        """The user the API key belongs to (asked once, then cached)."""
        if self._viewer is None:
            viewer = (await self.client.viewer()).viewer
            if viewer is None:
                raise AuthenticationError(
                    f"{self.base_url} returned no viewer: "
                    + (
                        "it does not recognise this API key."
                        if self._has_key
                        else "no API key was given. Pass api_key=..., set "
                        "WANDB_API_KEY, or add the host to your netrc file."
                    )
                )
            self._viewer = viewer
        return self._viewer

    async def default_entity(self) -> str:
        """``default_entity``, else ``WANDB_ENTITY``, else the viewer's entity."""
        if self._default_entity is None:
            entity = (await self.viewer()).entity
            if not entity:
                raise NotFoundError(
                    f"{self.base_url} knows no default entity for this user; "
                    f"name it in the path ('entity/project'), set {ENV_ENTITY}, "
                    "or pass AsyncApi(default_entity=...)."
                )
            self._default_entity = entity
        return self._default_entity

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> AsyncRuns:
        """As ``Api.runs``; sends nothing (see the class for the entity).

        Raises:
            InvalidArgumentError: a malformed argument, or no entity known.
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
        entity = where.entity or self._default_entity
        if entity is None:
            raise InvalidArgumentError(
                f"runs({path!r}) names no entity and none is known yet: use "
                f"'entity/{where.project}', pass AsyncApi(default_entity=...), "
                f"set {ENV_ENTITY}, or `await api.default_entity()` once first."
            )
        return AsyncRuns(
            self.client,
            entity,
            where.project,
            filters=filters,
            order=order,
            per_page=per_page,
            include_sweeps=include_sweeps,
        )

    async def run(self, path: str) -> AsyncRun:
        """As ``Api.run``, awaited."""
        where = parse_run_path(path)
        entity = where.entity or await self.default_entity()
        fields, sweep = await arun(
            self.client,
            run_flow(
                entity,
                where.project,
                where.run_id,
                include_sweeps=True,
                make_sweep=lambda f: AsyncSweep(f, entity, where.project, self.client),
            ),
        )
        return AsyncRun(self.client, entity, where.project, fields, sweep=sweep)

    async def create_run(
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
    ) -> AsyncRun:
        """As ``Api.create_run``, awaited: a run in ``project``
        (``"uncategorized"`` if None) of ``entity`` (the default entity if
        None), with ``run_id`` (8 random characters if None).

        Raises:
            InvalidArgumentError: a malformed argument; nothing was sent.
            GraphQLError: the server refused (e.g. the key may not write there).
        """
        new = run_writes.new_run(
            run_id=run_id, project=project, state=state, config=config, tags=tags,
            notes=notes, name=name, group=group, job_type=job_type,
        )  # fmt: skip
        entity = entity or await self.default_entity()
        fields = await arun(self.client, run_writes.create_run(entity, new))
        return AsyncRun(self.client, entity, new.project, fields)

    async def projects(self, entity: str | None = None) -> list[Project]:
        """As ``Api.projects``, awaited."""
        name = check_entity(entity) or await self.default_entity()
        return [p async for p in aiterate(self.client, project_pages(name))]

    async def project(self, name: str, entity: str | None = None) -> Project:
        """As ``Api.project``, awaited."""
        name = check_project_name(name)
        owner = check_entity(entity) or await self.default_entity()
        return await arun(self.client, project_flow(owner, name))

    async def sweep(self, path: str) -> AsyncSweep:
        """As ``Api.sweep``, awaited."""
        where = parse_sweep_path(path)
        entity = where.entity or await self.default_entity()
        fields = await arun(
            self.client, sweep_flow(entity, where.project, where.run_id)
        )
        if fields is None:
            raise NotFoundError(
                f"Sweep {entity}/{where.project}/{where.run_id} not found."
            )
        return AsyncSweep(fields, entity, where.project, self.client)
