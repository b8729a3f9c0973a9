"""The transport: the ASGI app, serving on a socket, auth and fault injection.

Owns HTTP concerns only: the GraphQL-over-HTTP protocol, gzip, Server-Timing,
API keys in headers, latency and fault knobs (``app``, ``serving``, ``auth``,
``faults``). May import: ``runs_server.graphql`` and everything below it.
"""
