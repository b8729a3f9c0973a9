"""The web pages' routes and headers, over HTTP (no browser): which paths are
pages, what every page and static file is sent with, and that the API's 404s,
405s and Host rule are what they were for everything else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import runs_server.web
from runs_server.web.pages import (
    CONTENT_SECURITY_POLICY,
    GRAPHIQL_CONTENT_SECURITY_POLICY,
    STATIC_PREFIX,
)
from tests.server.conftest import Live

STATIC = Path(runs_server.web.__file__).parent / "static"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/demo/mnist", "project.html"),
        ("/demo/mnist/", "project.html"),
        ("/demo/mnist/runs/xo8otjgc", "run.html"),
        ("/no-such/project", "project.html"),  # the page says so, from the API
    ],
)
def test_page_paths_serve_their_page(http: httpx.Client, path: str, page: str) -> None:
    response = http.get(path, headers=HTML)
    assert response.status_code == 200
    assert response.content == (STATIC / page).read_bytes()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_graphql_in_a_browser_is_graphiql_and_stays_an_api_otherwise(
    http: httpx.Client,
) -> None:
    page = http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.content == (STATIC / "graphql.html").read_bytes()
    assert b"vendor/graphiql/graphiql.min.js" in page.content
    policy = page.headers["content-security-policy"]
    assert policy == GRAPHIQL_CONTENT_SECURITY_POLICY
    assert http.get("/graphql").status_code == 405  # GET without text/html
    answer = http.post("/graphql", json={"query": "{ viewer { username } }"})
    assert answer.json() == {"data": {"viewer": {"username": "demo"}}}


def directives(policy: str) -> dict[str, str]:
    pairs = (part.strip().partition(" ") for part in policy.split(";"))
    return {name: value for name, _, value in pairs}


def test_graphiqls_policy_relaxes_only_style_elements_and_data_fonts() -> None:
    """Scripts stay self only (no inline, no eval) on every page; GraphiQL's
    page differs from the others in style-src-elem and font-src alone."""
    strict = directives(CONTENT_SECURITY_POLICY)
    graphiql = directives(GRAPHIQL_CONTENT_SECURITY_POLICY)
    assert strict["script-src"] == graphiql["script-src"] == "'self'"
    assert graphiql["style-src"] == "'self'"  # style attributes stay blocked
    assert graphiql["style-src-elem"] == "'self' 'unsafe-inline'"
    assert graphiql["font-src"] == "'self' data:"
    differ = {
        k for k in strict.keys() | graphiql.keys() if strict.get(k) != graphiql.get(k)
    }
    assert differ == {"style-src-elem", "font-src"}


def test_graphiqls_files_are_served_with_their_licences(http: httpx.Client) -> None:
    page = (STATIC / "graphql.html").read_text()
    linked = [part.split('"')[0] for part in page.split('"' + STATIC_PREFIX)[1:]]
    assert {
        "vendor/graphiql/react.production.min.js",
        "vendor/graphiql/react-dom.production.min.js",
        "vendor/graphiql/graphiql.min.js",
        "vendor/graphiql/graphiql.min.css",
    } <= set(linked)
    for name in linked:
        response = http.get(STATIC_PREFIX + name)
        assert response.status_code == 200, name
        assert response.content == (STATIC / name).read_bytes()
    for licence in ("graphiql", "react", "react-dom"):
        text = http.get(f"{STATIC_PREFIX}vendor/graphiql/{licence}.LICENSE").text
        assert text.startswith("MIT License\n"), licence


def test_no_page_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    """The CSP allows self only; a page that needed more would break in it."""
    for page in ("project.html", "run.html", "graphql.html"):
        text = (STATIC / page).read_text()
        assert "<style" not in text and " style=" not in text, page
        for tag in text.split("<script")[1:]:
            assert tag.lstrip().startswith('src="/static/runs-web/'), page
        assert "http://" not in text and "https://" not in text, page
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("project.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
        ("vendor/uPlot.LICENSE", "text/plain; charset=utf-8"),
        ("vendor/graphiql/graphiql.min.js", "text/javascript; charset=utf-8"),
        ("vendor/graphiql/graphiql.min.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_static_files_have_their_content_type_and_revalidate_by_etag(
    http: httpx.Client, name: str, content_type: str
) -> None:
    response = http.get(STATIC_PREFIX + name)
    assert response.status_code == 200
    assert response.content == (STATIC / name).read_bytes()
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-cache"
    etag = response.headers["etag"]
    again = http.get(STATIC_PREFIX + name, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    changed = http.get(STATIC_PREFIX + name, headers={"if-none-match": '"other"'})
    assert changed.status_code == 200


def test_head_sends_the_length_without_the_body(http: httpx.Client) -> None:
    response = http.head(STATIC_PREFIX + "project.js")
    assert response.status_code == 200
    assert response.content == b""
    size = (STATIC / "project.js").stat().st_size
    assert response.headers["content-length"] == str(size)


@pytest.mark.parametrize(
    "path",
    [
        STATIC_PREFIX + "nothing.js",
        STATIC_PREFIX + "%2e%2e/pages.py",
        STATIC_PREFIX + "vendor",
    ],
)
def test_unknown_static_files_are_404(http: httpx.Client, path: str) -> None:
    response = http.get(path)  # %2e%2e reaches the server as ".." (decoded)
    assert response.status_code == 404
    assert b"import" not in response.content  # no source of ours, ever


@pytest.mark.parametrize(
    "path", ["/demo", "/a/b/c", "/a/b/runs", "/a/b/history/x", "/a//runs/x"]
)
def test_other_paths_keep_the_api_404(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"].startswith("no such endpoint")


def test_pages_answer_get_only(http: httpx.Client) -> None:
    response = http.post("/demo/mnist", json={})
    assert response.status_code == 404


def test_pages_follow_the_host_rule(live_server: Live) -> None:
    """A DNS-rebinding page (its own name on 127.0.0.1) gets no page either."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        bad = client.get("/demo/mnist", headers={"host": "evil.example:80", **HTML})
        good = client.get("/demo/mnist", headers={"host": "localhost", **HTML})
    assert bad.status_code == 403
    assert good.status_code == 200
