"""Signed links to run files: where the SDK PUTs a file (``uploadUrl``) and
where readers GET it (``File.url``, ``directUrl``).

A link names the run's row id, the file and what it allows (``put`` or
``get``), and carries an expiry and an HMAC-SHA256 signature of all of them.
The secret is kept in the store, so links given out before a restart still
work after it (the SDK retries an upload with the link it was given).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from runs_server.store import Store
from runs_server.writes.errors import WriteError
from runs_server.writes.limits import LINK_TTL_S
from runs_server.writes.names import checked_file_name

LINK_PATH_PREFIX = "/run-files/"
_SECRET_KEY = "run_file_link_secret"
Operation = Literal["put", "get"]


@dataclass(frozen=True)
class Link:
    run_id: int
    name: str
    operation: Operation


def _secret(store: Store) -> bytes:
    value = store.get_meta(_SECRET_KEY)  # a read: read-only stores sign too
    if value is None:
        with store.transaction():  # made once; a racing first maker wins
            value = store.get_meta(_SECRET_KEY)
            if value is None:
                value = secrets.token_hex(32)
                store.set_meta(_SECRET_KEY, value)
    return bytes.fromhex(value)


def _signature(secret: bytes, link: Link, expires: int) -> str:
    message = f"{link.operation}:{link.run_id}:{link.name}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_path(store: Store, link: Link, now: float | None = None) -> str:
    """The URL path (with query) of ``link``, valid for ``LINK_TTL_S``."""
    expires = math.ceil((time.time() if now is None else now) + LINK_TTL_S)
    sig = _signature(_secret(store), link, expires)
    return (
        f"{LINK_PATH_PREFIX}{link.run_id}/{quote(link.name, safe='/')}"
        f"?op={link.operation}&expires={expires}&signature={sig}"
    )


def resolve(
    store: Store, path: str, query: dict[str, str], now: float | None = None
) -> Link:
    """The link ``path`` and ``query`` make, or a 403/404 saying why not."""
    run_text, _, quoted = path[len(LINK_PATH_PREFIX) :].partition("/")
    operation = query.get("op", "")
    if not run_text.isdigit() or not quoted or operation not in ("put", "get"):
        raise WriteError(404, "no such run file link")
    link = Link(int(run_text), checked_file_name(unquote(quoted)), operation)  # type: ignore[arg-type]
    try:
        expires = int(query.get("expires", ""))
    except ValueError:
        raise WriteError(
            403, "the link has no valid expiry; ask for a new one"
        ) from None
    expected = _signature(_secret(store), link, expires)
    if not hmac.compare_digest(expected, query.get("signature", "")):
        raise WriteError(403, "the link's signature is not valid")
    if (time.time() if now is None else now) > expires:
        raise WriteError(403, "the link has expired; ask for a new one")
    return link
