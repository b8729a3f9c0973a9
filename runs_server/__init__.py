"""runs_server: a local W&B-compatible GraphQL server on SQLite.

Start it with ``runs-client serve`` or ``python -m runs_server`` (see
``runs_server.command`` for the flags). From Python::

    from runs_server.http.app import RunsServerApp, ServerConfig
    from runs_server.http.serving import BackgroundServer
    from runs_server.loaders.demo import seed_demo
    from runs_server.store import Store

    store = Store()                      # or Store("runs.db")
    seed_demo(store)                     # demo/mnist, deterministic
    with BackgroundServer(RunsServerApp(store, ServerConfig())) as server:
        ...                              # POST GraphQL to server.graphql_url

Layers, top to bottom; a module may import only from its own subpackage and
from the layers below it (``tests/test_import_direction.py`` enforces this)::

    command, __main__      the entry point: flags, opening the store, serving
    http/                  ASGI app, serving, auth, fault injection
    graphql/               schema, resolvers, run fields, scalars, limits
    listing/  history/     run-listing SQL compiler; history, sampled history
    loaders/  writes/      and events reads; the JSON Lines loader, demo seed;
                           the write path (runs, file_stream, file links)
    store/                 connection, layout, migrations, users, projects,
                           runs, history rows (``Store``)

``listing``, ``history``, ``loaders`` and ``writes`` sit side by side and do not import
each other; the store executes SQL they build through its connection but
knows none of them. This package never imports ``runs_client``; importing it
alone stays cheap (the CLI builds its parser from ``runs_server.command``
without loading the server).
"""
