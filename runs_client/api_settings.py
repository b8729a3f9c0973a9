"""What ``Api`` and ``AsyncApi`` share before any request: their settings
checked and resolved (arguments, then W&B's environment variables and netrc),
the options of their httpx client, and the checks of ``runs()``' arguments.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

import httpx

from ._exceptions import InvalidArgumentError
from .transport.constants import DEADLINE_FACTOR, GRAPHQL_PATH, NotGiven
from .transport.credentials import (
    ENV_ENTITY,
    env_value,
    resolve_api_key,
    resolve_base_url,
    resolve_timeout,
    resolve_verify,
)

__all__ = [
    "Settings",
    "check_entity",
    "check_project_name",
    "check_runs_args",
    "open_http",
    "resolve_settings",
]

H = TypeVar("H")


@dataclass(frozen=True)
class Settings:
    """One client's resolved settings."""

    base_url: str
    key: str | None
    timeout: httpx.Timeout
    verify: Any
    proxy: str | None
    max_retries: int
    deadline: float | None
    max_response_bytes: int
    default_entity: str | None

    @property
    def graphql_url(self) -> str:
        return self.base_url + GRAPHQL_PATH

    def http_options(self) -> dict[str, Any]:
        return {
            "auth": httpx.BasicAuth("api", self.key) if self.key else None,
            "headers": {"Accept-Encoding": "gzip", "User-Agent": _user_agent()},
            "timeout": self.timeout,
            "verify": self.verify,
            "proxy": self.proxy,
            "trust_env": True,  # HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE
        }


def resolve_settings(
    api_key: str | None,
    base_url: str | None,
    *,
    timeout: float | httpx.Timeout | None | NotGiven,
    max_retries: int,
    deadline: float | None | NotGiven,
    max_response_bytes: int,
    verify: bool | str | ssl.SSLContext,
    proxy: str | None,
    default_entity: str | None,
) -> Settings:
    """Every setting checked (InvalidArgumentError names the bad one) and
    resolved; nothing is sent."""
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
    url = resolve_base_url(base_url)
    key = resolve_api_key(api_key, url)
    resolved_timeout = resolve_timeout(timeout)
    resolved_verify = resolve_verify(verify)
    if isinstance(deadline, NotGiven):
        read = resolved_timeout.read
        deadline = None if read is None else DEADLINE_FACTOR * read
    return Settings(
        base_url=url,
        key=key,
        timeout=resolved_timeout,
        verify=resolved_verify,
        proxy=proxy,
        max_retries=max_retries,
        deadline=deadline,
        max_response_bytes=max_response_bytes,
        default_entity=default_entity or env_value(ENV_ENTITY),
    )


def open_http(factory: Callable[..., H], settings: Settings) -> H:
    """``factory`` (httpx.Client or httpx.AsyncClient) with the settings' options."""
    try:
        return factory(**settings.http_options())
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


def _user_agent() -> str:
    try:
        version = metadata.version("runs-client")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return f"runs-client/{version} httpx/{httpx.__version__}"


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


def check_runs_args(
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
    if per_page is not None and (
        not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1
    ):
        raise InvalidArgumentError(
            f"per_page={per_page!r} is not accepted; pass an int >= 1, or None "
            "to let the client size pages."
        )
    if not isinstance(include_sweeps, bool):
        raise InvalidArgumentError(
            f"include_sweeps={include_sweeps!r} is not accepted; pass True or False."
        )


def check_entity(entity: object) -> str | None:
    """An ``entity=`` argument, stripped; None: use the default entity."""
    if entity is None:
        return None
    if not isinstance(entity, str) or not entity.strip() or "/" in entity:
        raise InvalidArgumentError(
            f"entity must be a non-empty string without '/', got {entity!r}"
        )
    return entity.strip()


def check_project_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise InvalidArgumentError(
            f"project name must be a non-empty string without '/', got "
            f"{name!r}; pass the entity as entity=..."
        )
    return name.strip()
