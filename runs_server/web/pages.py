"""Which GET is a page, and the bytes and headers of each page and static file.

Routes (GET and HEAD only; anything else is not ours and gets the app's 404):

- ``/{entity}/{project}``: the runs table (``project.html``),
- ``/{entity}/{project}/runs/{run_id}``: a run page (``run.html``), the link
  ``run.url`` gives for a local server,
- ``/graphql`` asked for ``text/html`` (a browser): GraphiQL (vendored, see
  ``static/vendor/graphiql/README.md``), started by ``graphql.js``,
- ``/static/runs-web/{file}``: the scripts, styles and vendored files.

The HTML is the same for every project and run: the scripts read the entity,
project and run id from the address, so no value is ever templated into a
page. Files are read once, at start-up, from the package (about 1.7 MB, all
but 80 kB of it GraphiQL and React) and sent with an ETag, revalidated on
every load (``no-cache``), so an upgraded server is never hidden behind a stale script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.resources.abc from 3.11 on; only a type here
    from importlib.abc import Traversable

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "GRAPHIQL_CONTENT_SECURITY_POLICY",
    "STATIC_PREFIX",
    "WebPages",
    "WebReply",
]

STATIC_PREFIX = "/static/runs-web/"

# Self only, no inline script or style, no frames, no plugins: the pages load
# nothing from anywhere else and talk to this server's /graphql alone.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# GraphiQL's page only, two relaxations, scripts untouched (self only, no
# inline script, no eval):
# - style-src-elem 'unsafe-inline': its dialogs (Radix, through
#   react-remove-scroll) lock page scrolling by adding a <style> element whose
#   text depends on the scrollbar's width, so no hash can name it, and the
#   bundle takes no nonce from outside. Style attributes stay blocked
#   (style-src 'self'); React and CodeMirror set styles through the DOM, which
#   no CSP governs. A browser without style-src-elem falls back to
#   style-src 'self' and blocks only that scroll lock.
# - font-src data:: GraphiQL's stylesheet carries its fonts as data: URLs.
GRAPHIQL_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "style-src-elem 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_POLICIES = {"graphql.html": GRAPHIQL_CONTENT_SECURITY_POLICY}

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
# Licence files carry no extension in their packages; served as text.
_DEFAULT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class WebReply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    etag: str


def _load_static() -> dict[str, _File]:
    """Every file under ``static/`` by its path there (``vendor/uPlot.min.css``)."""
    files: dict[str, _File] = {}
    root = resources.files("runs_server.web") / "static"

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                walk(entry, name + "/")
            elif not entry.name.startswith("."):
                body = entry.read_bytes()
                suffix = "." + entry.name.rpartition(".")[2]
                digest = hashlib.sha256(body).hexdigest()[:20]
                files[name] = _File(
                    body, _CONTENT_TYPES.get(suffix, _DEFAULT_TYPE), f'"{digest}"'
                )

    walk(root, "")
    return files


def _page_of(path: str, accept: str) -> str | None:
    """The HTML file a page path is served from, or None when it is no page."""
    if path in ("/graphql", "/graphql/"):
        return "graphql.html" if "text/html" in accept else None
    parts = path.strip("/").split("/")
    if not all(parts) or path.startswith(STATIC_PREFIX):
        return None
    if len(parts) == 2:
        return "project.html"
    if len(parts) == 4 and parts[2] == "runs":
        return "run.html"
    return None


class WebPages:
    """``WebPages().reply(method, path, accept, if_none_match)``: a page, a
    static file, a 404 for an unknown static file, or None (not ours). The
    body is whole for HEAD too; the app sends only its length."""

    def __init__(self) -> None:
        self.files = _load_static()

    def reply(
        self, method: str, path: str, accept: str | None, if_none_match: str | None
    ) -> WebReply | None:
        if method not in ("GET", "HEAD"):
            return None
        page = None
        if path.startswith(STATIC_PREFIX):
            name = path[len(STATIC_PREFIX) :]
            found = self.files.get(name)
            if found is None:
                message = f"no such file {name[:100]!r} in the web pages' static files"
                return WebReply(
                    404,
                    message.encode(),
                    [(b"content-type", b"text/plain; charset=utf-8")],
                )
        else:
            page = _page_of(path, accept or "")
            if page is None:
                return None
            found = self.files[page]
        headers = [
            (b"etag", found.etag.encode()),
            (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if found.content_type.startswith("text/html"):
            policy = _POLICIES.get(page or "", CONTENT_SECURITY_POLICY)
            headers.append((b"content-security-policy", policy.encode()))
            headers.append((b"x-frame-options", b"DENY"))
        if if_none_match is not None and found.etag in (
            tag.strip().removeprefix("W/") for tag in if_none_match.split(",")
        ):
            return WebReply(304, b"", headers)
        headers.append((b"content-type", found.content_type.encode()))
        return WebReply(200, found.body, headers)
