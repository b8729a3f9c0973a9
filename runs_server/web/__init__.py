"""The web pages: a runs table, run pages and GraphiQL, served as static files
that call the GraphQL API from the browser.

``pages`` routes a GET to a page or a static file (``static/``, shipped in the
wheel, including the vendored uPlot, GraphiQL and React with their
licences); ``http.app`` asks it before answering 404. Nothing here reads
the store: every value the pages show comes through ``/graphql`` with the
caller's own key, so the API's auth, bounds and Host rules apply to the pages
unchanged.
"""

from runs_server.web.pages import STATIC_PREFIX, WebPages, WebReply

__all__ = ["STATIC_PREFIX", "WebPages", "WebReply"]
