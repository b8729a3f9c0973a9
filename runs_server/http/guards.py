"""Checks that keep web pages away from a server bound to loopback.

A page in a browser can make the browser POST to 127.0.0.1, and with DNS
rebinding even read the answer (its own hostname then resolves to
127.0.0.1). Two things stop it: the ``Host`` header, which names the page's
hostname and not a loopback name, and the content type, since a page may send
only forms and ``text/plain`` without a CORS preflight, which we never answer.
"""

from __future__ import annotations

from runs_server.http.auth import is_loopback

LOOPBACK_FORM = "localhost, 127.0.0.1 or [::1], with any port"


def _host_name(header: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:8080`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, _port = header.partition(":")
    return name.rstrip(".")


def host_problem(header: str | None) -> str | None:
    """Why a request with this ``Host`` is refused on loopback, or None."""
    if header is None:
        return None  # HTTP/1.0 and raw clients; browsers always send Host
    name = _host_name(header)
    if is_loopback(name) or name.endswith(".localhost"):
        return None
    shown = header[:100]
    return (
        f"Host {shown!r} is not a loopback name; this server is bound to "
        f"loopback and answers only to {LOOPBACK_FORM} (serve with --host to "
        "serve other names, which requires API keys)"
    )


def json_content_type(header: str | None) -> bool:
    """Whether a POST's ``Content-Type`` is JSON (``application/json``,
    ``application/graphql-response+json`` or another ``+json`` type)."""
    if header is None:
        return False
    media = header.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
