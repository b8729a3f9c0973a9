"""The GraphQL layer: schema, resolvers, run fields, scalars, execution, limits.

Owns what the W&B schema means on this server: loading the SDL (``schema``),
the resolvers (``resolvers``, ``run_fields``), scalars, pre-encoded execution
(``execution``), query caps (``limits``) and the request context
(``context``). Knows nothing of HTTP. May import: ``runs_server.listing``,
``runs_server.history`` and ``runs_server.store``.
"""
