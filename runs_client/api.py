"""``Api``: the entry point, holding one connection pool and the retrying client."""

from __future__ import annotations

import importlib.util
import json
import ssl
from importlib import metadata
from types import TracebackType
from typing import Any

import httpx
from runs_gql import ViewerViewer

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
from .project import Project, fetch_project, iter_projects
from .run import Run
from .runs import Runs, fetch_run
from .sweep import Sweep, fetch_sweep
from .transport import deadline as deadline_backend
from .transport.constants import (
    DEADLINE_FACTOR,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    GRAPHQL_PATH,
    NOT_GIVEN,
    NotGiven,
)
from .transport.credentials import (
    ENV_ENTITY,
    ENV_PROJECT,
    env_value,
    resolve_api_key,
    resolve_base_url,
    resolve_timeout,
    resolve_verify,
)
from .transport.retrying import RetryingClient

__all__ = ["Api"]


def _user_agent() -> str:
    try:
        version = metadata.version("runs-client")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return f"runs-client/{version} httpx/{httpx.__version__}"


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
        if (
            not isinstance(max_retries, int)
            or isinstance(max_retries, bool)
            or max_retries < 0
        ):
            raise InvalidArgumentError(
                f"max_retries={max_retries!r} is not accepted; pass an int >= 0 "
                "(0 disables retries)."
            )
        if default_entity is not None and (
            not isinstance(default_entity, str) or not default_entity.strip()
        ):
            raise InvalidArgumentError(
                f"default_entity={default_entity!r} is not accepted; pass a "
                "non-empty entity name or None."
            )
        _check_positive("max_response_bytes", max_response_bytes, integer=True)
        if not isinstance(deadline, NotGiven) and deadline is not None:
            _check_positive("deadline", deadline, integer=False)
        if proxy is not None:
            _check_proxy(proxy)
        self.base_url = resolve_base_url(base_url)
        key = resolve_api_key(api_key, self.base_url)
        resolved_timeout = resolve_timeout(timeout)
        resolved_verify = resolve_verify(verify)
        try:
            self._http = httpx.Client(
                auth=httpx.BasicAuth("api", key) if key else None,
                headers={"Accept-Encoding": "gzip", "User-Agent": _user_agent()},
                timeout=resolved_timeout,
                verify=resolved_verify,
                proxy=proxy,
                trust_env=True,  # HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE
            )
        except (ValueError, ImportError) as exc:
            # Only the environment's proxies are left unchecked by now. The
            # URL is not repeated: it may carry the proxy's password.
            raise InvalidArgumentError(
                "A proxy from the environment (HTTP_PROXY, HTTPS_PROXY or "
                f"ALL_PROXY) is not usable ({type(exc).__name__}); set it to a "
                "URL such as 'http://proxy:3128' (schemes: "
                + ", ".join(f"{s}://" for s in _PROXY_SCHEMES)
                + "; SOCKS needs pip install 'httpx[socks]'), or unset it."
            ) from None
        # The deadline covers each whole attempt, response head included.
        deadline_backend.install(self._http)
        self._has_key = key is not None
        #: The retrying generated client; ``Runs`` and ``Run`` make requests with it.
        if isinstance(deadline, NotGiven):
            read = resolved_timeout.read
            deadline = None if read is None else DEADLINE_FACTOR * read
        self.client = RetryingClient(
            self.base_url + GRAPHQL_PATH,
            self._http,
            max_retries=max_retries,
            deadline=deadline,
            max_response_bytes=max_response_bytes,
        )
        self._default_entity = default_entity or env_value(ENV_ENTITY)
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
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> Runs:
        """The runs of a project, lazily paged, optionally filtered and ordered.

        Args:
            path: ``"entity/project"`` or ``"project"``; ``WANDB_PROJECT`` if None.
            filters: a MongoDB-style query, e.g. ``{"state": "finished"}``.
            order: ``+`` or ``-`` then a field, e.g. ``"-summary_metrics.loss"``.
            per_page: runs per request (at least 1).
            include_sweeps: fetch each distinct sweep once and set ``run.sweep``.

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
        _check_runs_args(filters, order, per_page, include_sweeps)
        entity = where.entity or self.default_entity

        return Runs(
            self.client,
            entity,
            where.project,
            filters=filters,
            order=order,
            per_page=per_page,
            include_sweeps=include_sweeps,
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
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise InvalidArgumentError(
                f"project name must be a non-empty string without '/', got "
                f"{name!r}; pass the entity as entity=..."
            )
        entity = self._entity_arg(entity)

        return fetch_project(self.client, entity, name.strip())

    def _entity_arg(self, entity: object) -> str:
        if entity is None:
            return self.default_entity
        if not isinstance(entity, str) or not entity.strip() or "/" in entity:
            raise InvalidArgumentError(
                f"entity must be a non-empty string without '/', got {entity!r}"
            )
        return entity.strip()

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


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _check_positive(name: str, value: object, *, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not 0 < value < float("inf")
    ):
        what = "an int > 0" if integer else "a number of seconds > 0, or None"
        raise InvalidArgumentError(f"{name}={value!r} is not accepted; pass {what}.")


def _check_proxy(proxy: object) -> None:
    """A proxy URL httpx accepts; the message never repeats the URL (it may
    carry the proxy's password)."""
    accepted = (
        "pass a URL such as 'http://proxy:3128' (schemes: "
        + ", ".join(f"{s}://" for s in _PROXY_SCHEMES)
        + ") or None"
    )
    if not isinstance(proxy, str):
        raise InvalidArgumentError(
            f"proxy of type {type(proxy).__name__} is not accepted; {accepted}."
        )
    try:
        url = httpx.URL(proxy)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in _PROXY_SCHEMES or not url.host:
        raise InvalidArgumentError(f"proxy is not a proxy URL; {accepted}.")
    if url.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise InvalidArgumentError(
            "proxy: a SOCKS proxy needs the socksio package: "
            "pip install 'httpx[socks]'."
        )


def _check_runs_args(
    filters: object, order: object, per_page: object, include_sweeps: object
) -> None:
    if filters is not None:
        if not isinstance(filters, dict):
            raise InvalidArgumentError(
                f"filters of type {type(filters).__name__} are not accepted; pass "
                "a dict (a MongoDB-style query such as {'state': 'finished'}) "
                "or None."
            )
        try:
            json.dumps(filters, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"filters are not JSON-serialisable ({exc}); use only dicts, "
                "lists, strings, finite numbers, booleans and None."
            ) from exc
    if not isinstance(order, str) or not order.strip():
        raise InvalidArgumentError(
            f"order={order!r} is not accepted; pass a field with an optional "
            "'+' or '-' prefix, e.g. '+created_at' or '-summary_metrics.loss'."
        )
    if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1:
        raise InvalidArgumentError(
            f"per_page={per_page!r} is not accepted; pass an int >= 1."
        )
    if not isinstance(include_sweeps, bool):
        raise InvalidArgumentError(
            f"include_sweeps={include_sweeps!r} is not accepted; pass True or False."
        )
