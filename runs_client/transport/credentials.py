"""Where settings come from: arguments, W&B's environment variables, netrc.

The lookup order is the official SDK's, so a machine already set up for
``wandb`` works unchanged: an explicit argument, then ``WANDB_*`` variables,
then the netrc file (``$NETRC`` or ``~/.netrc``, machine = the base URL's host).
Nothing here logs or formats an API key.
"""

from __future__ import annotations

import logging
import math
import netrc
import os
import ssl
from pathlib import Path

import httpx

from .._exceptions import InvalidArgumentError
from .constants import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, NotGiven

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_ENTITY",
    "ENV_HTTP_TIMEOUT",
    "ENV_PROJECT",
    "env_value",
    "netrc_api_key",
    "netrc_path",
    "resolve_api_key",
    "resolve_base_url",
    "resolve_timeout",
    "resolve_verify",
]

ENV_API_KEY = "WANDB_API_KEY"
ENV_BASE_URL = "WANDB_BASE_URL"
ENV_ENTITY = "WANDB_ENTITY"
ENV_PROJECT = "WANDB_PROJECT"
ENV_HTTP_TIMEOUT = "WANDB_HTTP_TIMEOUT"

logger = logging.getLogger("runs_client")


def env_value(name: str) -> str | None:
    """The stripped value of an environment variable; unset or blank is None."""
    value = os.environ.get(name, "").strip()
    return value or None


def resolve_base_url(base_url: str | None) -> str:
    """``base_url``, else ``WANDB_BASE_URL``, else ``https://api.wandb.ai``."""
    source = "base_url"
    if base_url is None:
        base_url = env_value(ENV_BASE_URL)
        source = ENV_BASE_URL
    if base_url is None:
        return DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise InvalidArgumentError(
            f"{source} must be a string such as 'https://api.wandb.ai', "
            f"got {type(base_url).__name__}."
        )
    url = base_url.strip().rstrip("/")
    # A URL copied with the endpoint on it still means the server.
    url = url.removesuffix("/graphql").rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        shown = "" if "@" in url else f" {url!r}"  # may hold credentials
        raise InvalidArgumentError(
            f"{source}{shown} is not a URL ({exc if shown else 'malformed'}); "
            "expected e.g. 'https://api.wandb.ai' or 'http://localhost:8080'."
        ) from None
    if parsed.userinfo or "@" in url:
        # A key pasted into the URL would end up in every log line and error.
        raise InvalidArgumentError(
            f"{source} must not carry credentials; pass api_key= or set "
            f"{ENV_API_KEY} instead."
        )
    if parsed.query or parsed.fragment or "?" in url or "#" in url:
        # base_url + "/graphql" would land inside the query; it may hold a key.
        raise InvalidArgumentError(
            f"{source} must be a plain server URL without '?query' or "
            "'#fragment', e.g. 'https://api.wandb.ai' or 'http://localhost:8080'."
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(
            f"{source} {url!r} is not an http(s) URL; expected e.g. "
            "'https://api.wandb.ai' or 'http://localhost:8080'."
        )
    return url


def netrc_path() -> Path:
    """``$NETRC`` if set, else ``~/.netrc``."""
    configured = env_value("NETRC")
    return Path(configured).expanduser() if configured else Path.home() / ".netrc"


def netrc_api_key(base_url: str, path: Path | None = None) -> str | None:
    """The password netrc holds for the base URL's host (``host:port`` first)."""
    path = path or netrc_path()
    if not path.is_file():
        return None
    try:
        entries = netrc.netrc(str(path))
    except (OSError, ValueError, netrc.NetrcParseError) as exc:
        # The parse error can quote the offending line, which may hold a key;
        # ValueError: a file that is not UTF-8 (UnicodeDecodeError).
        logger.debug("ignoring unreadable netrc file %s (%s)", path, type(exc).__name__)
        return None
    url = httpx.URL(base_url)
    machines = [url.host]
    if url.port is not None:
        machines.insert(0, f"{url.host}:{url.port}")
    for machine in machines:
        auth = entries.authenticators(machine)
        if auth and auth[2]:
            return auth[2]
    return None


def resolve_api_key(api_key: str | None, base_url: str) -> str | None:
    """``api_key``, else ``WANDB_API_KEY``, else netrc; None when none is set."""
    if api_key is not None:
        if not isinstance(api_key, str):
            raise InvalidArgumentError(
                f"api_key must be a string, got {type(api_key).__name__}."
            )
        return api_key.strip() or None
    return env_value(ENV_API_KEY) or netrc_api_key(base_url)


def resolve_timeout(
    timeout: float | httpx.Timeout | None | NotGiven,
) -> httpx.Timeout:
    """An ``httpx.Timeout`` from the argument, ``WANDB_HTTP_TIMEOUT`` or the default.

    ``None`` means no timeout at all; a number is seconds for every phase.
    """
    if isinstance(timeout, NotGiven):
        from_env = env_value(ENV_HTTP_TIMEOUT)
        if from_env is None:
            return DEFAULT_TIMEOUT
        try:
            seconds = float(from_env)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise InvalidArgumentError(
                f"{ENV_HTTP_TIMEOUT}={from_env!r} is not a timeout; expected a "
                "positive number of seconds, e.g. 60."
            )
        return httpx.Timeout(seconds)
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return httpx.Timeout(timeout)
    if (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and math.isfinite(timeout)
        and timeout > 0
    ):
        return httpx.Timeout(float(timeout))
    raise InvalidArgumentError(
        f"timeout={timeout!r} is not accepted; pass a positive number of "
        "seconds, an httpx.Timeout, or None for no timeout."
    )


def resolve_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """TLS verification for httpx, honouring the CA variables W&B users set.

    A CA bundle path becomes an ``SSLContext`` (httpx deprecates string paths).
    With ``True``, ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` are honoured (the
    official SDK uses requests); httpx itself reads ``SSL_CERT_FILE``/``_DIR``.
    """
    if isinstance(verify, bool):
        if verify and not (env_value("SSL_CERT_FILE") or env_value("SSL_CERT_DIR")):
            bundle = env_value("REQUESTS_CA_BUNDLE") or env_value("CURL_CA_BUNDLE")
            if bundle:
                return _context_from_path(bundle, "REQUESTS_CA_BUNDLE")
        return verify
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        return _context_from_path(os.fspath(verify), "verify")
    raise InvalidArgumentError(
        f"verify={verify!r} is not accepted; pass True, False, a CA bundle "
        "path, or an ssl.SSLContext."
    )


def _context_from_path(path: str, source: str) -> ssl.SSLContext:
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgumentError(
            f"{source}: cannot load CA certificates from {path!r} ({exc}); "
            "pass a PEM bundle file or a directory of certificates."
        ) from exc
