"""runs_server: a local W&B-compatible GraphQL server on SQLite.

Start it with ``runs-client serve`` or ``python -m runs_server`` (see
``runs_server.command`` for the flags). From Python::

    from runs_server.app import RunsServerApp, ServerConfig
    from runs_server.demo import seed_demo
    from runs_server.serving import BackgroundServer
    from runs_server.store import Store

    store = Store()                      # or Store("runs.db")
    seed_demo(store)                     # demo/mnist, deterministic
    with BackgroundServer(RunsServerApp(store, ServerConfig())) as server:
        ...                              # POST GraphQL to server.graphql_url

Modules: ``store`` (the typed store API), ``jsonl`` (the export format),
``app`` (ASGI: protocol, auth, gzip, Server-Timing, knobs), ``resolvers`` and
``run_fields`` (the schema's resolvers), ``history`` (page-wide history
reads), ``sampling``, ``limits`` (caps), ``faults``, ``demo``; the run listing
(filters, order, cursors) is ``listing``. This package never imports
``runs_client``; importing it alone stays cheap (the CLI builds its parser
from ``runs_server.command`` without loading the server).
"""
