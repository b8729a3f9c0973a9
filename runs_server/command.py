"""The ``serve`` command line: ``runs-client serve`` and ``python -m runs_server``."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile

# Only argparse at import time: ``runs-client`` builds its parser from this
# module and must not pay for the server (ariadne, uvicorn) unless it serves.


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite file (default: a temporary file, removed at exit)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument(
        "--port", type=int, default=8080, help="port; 0 picks a free one"
    )
    parser.add_argument(
        "--demo", action="store_true", help="seed the demo/mnist project"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="add N ms to every response"
    )
    parser.add_argument(
        "--require-auth",
        action="store_true",
        help="require an API key even on loopback (always on for other hosts)",
    )
    faults = parser.add_argument_group("fault injection (shares of requests, 0..1)")
    faults.add_argument("--fault-429", type=float, default=0.0, help="answer 429")
    faults.add_argument("--fault-5xx", type=float, default=0.0, help="answer 500-504")
    faults.add_argument(
        "--fault-drop", type=float, default=0.0, help="drop the connection"
    )
    faults.add_argument(
        "--fault-truncate", type=float, default=0.0, help="cut the body short"
    )
    faults.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After of 429s"
    )
    faults.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault RNG"
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def run_serve(args: argparse.Namespace) -> int:
    """Open the store, seed it if asked, bind, print the URL and serve."""
    # A file even when none is named: WAL lets readers run side by side, one
    # connection each, which an in-memory database cannot.
    scratch = None
    if args.db is None:
        scratch = tempfile.TemporaryDirectory(prefix="runs_server-")
        args.db = os.path.join(scratch.name, "runs.db")
    try:
        return _serve(args)
    finally:
        if scratch is not None:
            scratch.cleanup()


def _serve(args: argparse.Namespace) -> int:
    from runs_server.http.app import RunsServerApp, ServerConfig
    from runs_server.http.auth import is_loopback
    from runs_server.http.faults import FaultConfig
    from runs_server.http.serving import bind_socket, serve_forever, url_of
    from runs_server.loaders.demo import seed_demo
    from runs_server.store import Store, StoreError

    try:
        faults = FaultConfig(
            rate_429=args.fault_429,
            rate_5xx=args.fault_5xx,
            rate_drop=args.fault_drop,
            rate_truncate=args.fault_truncate,
            retry_after_s=args.retry_after,
            seed=args.fault_seed,
        )
        store = Store(args.db)
    except (ValueError, StoreError) as exc:
        print(f"runs-client serve: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"runs-client serve: cannot open {args.db}: {exc}", file=sys.stderr)
        return 2
    loopback = is_loopback(args.host)
    require_auth = args.require_auth or not loopback
    demo = seed_demo(store) if args.demo else None
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(
            f"runs-client serve: cannot bind {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        store.close()
        return 2
    url = url_of(sock)
    app = RunsServerApp(
        store,
        ServerConfig(
            require_auth=require_auth,
            latency_ms=args.latency_ms,
            faults=faults,
            loopback_hosts=loopback,
        ),
    )
    print(f"runs_server listening on {url} (GraphQL at {url}/graphql)")
    if demo is not None:
        print(f"demo project: {demo.entity}/{demo.project} ({demo.runs} runs)")
    if require_auth:
        key = demo.api_key if demo is not None else None
        shown = key or "(none: add users to the store)"
        print(f"auth required; demo API key: {shown}")
        print(f"  export WANDB_BASE_URL={url} WANDB_API_KEY={shown}")
    else:
        print(
            "auth off on loopback: any API key, or none, acts as the demo user; "
            f"export WANDB_BASE_URL={url}"
        )
    sys.stdout.flush()
    try:
        serve_forever(app, sock, args.log_level)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runs_server",
        description="A local W&B-compatible GraphQL server.",
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))
