"""HTTP Basic ``api:<key>`` authentication."""

from __future__ import annotations

import base64
import ipaddress

from runs_server.store import Store, User

AUTH_FORM = "send HTTP Basic auth with user 'api' and your API key as the password"


class AuthError(Exception):
    """The request must be refused with 401; the message says why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_from_header(header: str | None) -> str | None:
    """The key of a Basic Authorization header; None when there is no header."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        # Name the scheme only if it looks like one: a client that sends its
        # bare key as the header must not see it echoed (and logged).
        shown = f" {scheme!r}" if scheme.isalpha() and len(scheme) <= 16 else ""
        raise AuthError(f"unsupported Authorization scheme{shown}; {AUTH_FORM}")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # bad base64 (binascii.Error), non-ASCII or non-UTF-8
        raise AuthError(f"malformed Basic credentials; {AUTH_FORM}") from None
    _user, sep, key = decoded.partition(":")
    if not sep or not key:
        raise AuthError(f"no API key in the Basic credentials; {AUTH_FORM}")
    return key


def authenticate(
    store: Store, header: str | None, *, require_auth: bool
) -> User | None:
    """Who the request acts as.

    A key the store knows acts as its user, always; a malformed Authorization
    header is refused, always. A server that requires auth refuses a missing
    or unknown key. An open server acts as the default (demo) user for any
    other well-formed key, or none: W&B users have a cloud key exported, and
    the official SDK will not run without some key.
    """
    key = api_key_from_header(header)
    if key is None:
        if require_auth:
            raise AuthError(f"this server requires an API key: {AUTH_FORM}")
        return store.users.default()
    user = store.users.by_key(key)
    if user is None:
        if require_auth:
            raise AuthError("invalid API key")
        return store.users.default()
    return user
