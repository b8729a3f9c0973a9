"""The ``serve`` command line: ``runs-client serve`` and ``python -m runs_server``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sqlite3
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: importing them loads the server
    import socket

    from runs_server.http.config import ServerConfig

# Only argparse at import time: ``runs-client`` builds its parser from this
# module and must not pay for the server (ariadne, uvicorn) unless it serves.


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH",
        help="SQLite file (default: a temporary file, removed at exit)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="ADDR", help="address to bind"
    )
    parser.add_argument(
        "--port", type=int, default=8080, metavar="N", help="port; 0 picks a free one"
    )
    parser.add_argument(
        "--demo", action="store_true", help="seed the demo/mnist project"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="N",
        help="add N ms to every response",
    )
    parser.add_argument(
        "--require-auth",
        action="store_true",
        help="require an API key even on loopback (always on for other hosts)",
    )
    faults = parser.add_argument_group("fault injection (shares of requests, 0..1)")
    faults.add_argument(
        "--fault-429", type=float, default=0.0, metavar="SHARE", help="answer 429"
    )
    faults.add_argument(
        "--fault-5xx", type=float, default=0.0, metavar="SHARE", help="answer 500-504"
    )
    faults.add_argument(
        "--fault-drop",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="drop the connection",
    )
    faults.add_argument(
        "--fault-truncate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="cut the body short",
    )
    faults.add_argument(
        "--retry-after", type=int, default=1, metavar="S", help="Retry-After of 429s"
    )
    faults.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed of the fault RNG"
    )
    parser.add_argument(
        "--load",
        metavar="FILE.jsonl",
        action="append",
        default=[],
        help="load runs from a JSON Lines file (format: README); repeatable",
    )
    parser.add_argument(
        "--schema",
        metavar="PATH",
        help="serve this SDL file instead of the shipped schema (to try a "
        "schema change, or test schema-check)",
    )
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        metavar="N",
        help="server processes sharing the port and the store; every limit holds "
        f"per process (default: one per core, {cores()} here; 1: serve in "
        "this process)",
    )
    parser.add_argument(
        "--log-level", default="warning", metavar="LEVEL", help="uvicorn log level"
    )
    parser.add_argument("-V", "--version", action="version", version=_version())


# How long the banner's workers line waits for every worker to serve.
WORKERS_START_S = 30.0
# More server processes than this is a typo, not a plan (each holds its own
# thread pools, connections and caches).
MAX_WORKERS = 64


def cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(text: str) -> int:
    """``--workers``: a whole number from 1 to MAX_WORKERS, or a clear refusal."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number; give how many server processes to "
            "run, e.g. --workers 2"
        ) from None
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"{count} is too few; give 1 or more server processes (--workers 1 "
            "serves in this process)"
        )
    if count > MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"{count} is too many; give at most {MAX_WORKERS} server processes "
            f"(this machine has {cores()} cores)"
        )
    return count


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, like the other commands do;
    flags (off by default) and options without a default show none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or not action.option_strings
            or default is None
            or default is False  # store_true flags
            or default == []
            or default == argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


# What an open server tells clients to send when it holds no demo key: any
# key acts as the default user there, and the official SDK 0.31 refuses keys
# of fewer than 40 letters, digits or underscores before any request.
OPEN_API_KEY = "local_" + "0" * 34


def key_lines(url: str, require_auth: bool, demo_key: str | None) -> list[str]:
    """The banner's auth lines: what the server accepts, then one line to
    copy that points a client (ours, the official SDK, the CLI) at it."""
    if require_auth:
        key = demo_key or "(none: add users to the store)"
        first = f"auth required; demo API key: {key}"
    else:
        key = demo_key or OPEN_API_KEY
        first = "auth off on loopback: any API key, or none, acts as the demo user"
    return [first, f"  export WANDB_BASE_URL={url} WANDB_API_KEY={key}"]


def _version() -> str:
    from importlib import metadata

    try:
        return f"runs-client {metadata.version('runs-client')}"
    except metadata.PackageNotFoundError:
        return "runs-client (not installed)"


def _error(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def _load(store: Any, path: str) -> dict[str, int]:
    """Load one JSON Lines file; ``StoreError``/``OSError`` name the line or file."""
    from runs_server.loaders.jsonl import load_jsonl

    return dict(load_jsonl(store, path))


def load_file(db: str, path: str, prog: str = "runs-client load") -> int:
    """``runs-client load FILE --db PATH``: load all or nothing, say which."""
    from runs_server.store import Store, StoreError, StoreVersionError, StoreWriteError

    try:
        with Store(db) as store:
            counts = _load(store, path)
    except (StoreWriteError, StoreVersionError) as exc:
        return _error(prog, f"cannot load {path} into {db}: {exc}; nothing was loaded.")
    except StoreError as exc:
        return _error(
            prog, f"{path}: {exc}; nothing was loaded: fix that line and load again."
        )
    except (OSError, sqlite3.Error) as exc:
        return _error(prog, f"cannot load {path} into {db}: {exc}")
    loaded = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing"
    print(f"loaded {loaded} from {path} into {db}")
    return 0


def _schema_from(path: str) -> Any:
    """The executable schema of an SDL file, with the server's resolvers."""
    from runs_server.graphql.schema import schema_from_sdl

    with open(path, encoding="utf-8") as sdl:
        return schema_from_sdl(sdl.read())


def run_serve(args: argparse.Namespace, prog: str = "runs-client serve") -> int:
    """Open the store, seed it if asked, bind, print the URL and serve."""
    # A file even when none is named: WAL lets readers run side by side, one
    # connection each, which an in-memory database cannot.
    scratch = None
    if args.db is None:
        scratch = tempfile.TemporaryDirectory(prefix="runs_server-")
        args.db = os.path.join(scratch.name, "runs.db")
    try:
        return _serve(args, prog)
    finally:
        if scratch is not None:
            scratch.cleanup()


DEMO_USER = "demo"


def _serve(args: argparse.Namespace, prog: str) -> int:
    from runs_server.http.admission import reuse_large_buffers
    from runs_server.http.app import RunsServerApp, ServerConfig
    from runs_server.http.auth import is_loopback
    from runs_server.http.faults import FaultConfig
    from runs_server.http.serving import bind_socket, serve_forever, url_of
    from runs_server.loaders.demo import seed_demo
    from runs_server.store import Store, StoreError, StoreWriteError

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
        return _error(prog, str(exc))
    except sqlite3.Error as exc:
        return _error(prog, f"cannot open {args.db}: {exc}")
    loopback = is_loopback(args.host)
    require_auth = args.require_auth or not loopback
    schema = None
    notes: list[str] = []  # printed after the banner's first line
    if store.read_only:
        notes.append(f"{args.db} is not writable: serving it read-only")
    path = ""
    try:
        demo = seed_demo(store) if args.demo else None
        if args.load:
            with store.transaction():  # every --load file, or none of them
                for path in args.load:
                    counts = _load(store, path)
                    loaded = ", ".join(f"{n} {kind}" for kind, n in counts.items())
                    notes.append(f"loaded {loaded or 'nothing'} from {path}")
        if args.schema is not None:
            schema = _schema_from(args.schema)
    except StoreWriteError as exc:
        store.close()
        return _error(prog, f"{exc}; nothing half-written was kept.")
    except StoreError as exc:
        store.close()
        return _error(
            prog,
            f"{path}: {exc}; nothing was loaded: fix that line and start again.",
        )
    except OSError as exc:
        store.close()
        return _error(prog, f"cannot read {exc.filename}: {exc.strerror}")
    except Exception as exc:  # graphql-core's and ariadne's schema errors
        store.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _error(
            prog,
            f"--schema {args.schema} is not a schema the server can serve: "
            f"{type(exc).__name__}: {first}",
        )
    if not require_auth and not store.read_only and store.users.default() is None:
        # An open server acts as the demo user; an empty store gets one, so
        # the official SDK (which asks who it is) can log runs into it.
        store.users.create(DEMO_USER)
        notes.append(f"created user {DEMO_USER!r} (entity {DEMO_USER!r}) to act as")
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        store.close()
        return _error(prog, f"cannot bind {args.host}:{args.port}: {exc}")
    url = url_of(sock)
    reuse_large_buffers()  # this process and its workers: not a library's callers
    config = ServerConfig(
        require_auth=require_auth,
        latency_ms=args.latency_ms,
        faults=faults,
        loopback_hosts=loopback,
    )
    workers = cores() if args.workers is None else args.workers
    if workers > 1 and store.in_memory:
        # Each process would open an empty database of its own.
        if args.workers is not None:
            notes.append("an in-memory store cannot be shared: serving in one process")
        workers = 1
    if workers > 1:
        store.close()  # each worker opens its own: no connection crosses a fork
    else:
        app = RunsServerApp(store, config)
    if schema is not None:
        if workers == 1:
            app.graphql.schema = schema
        notes.append(f"serving the schema in {args.schema}")
    print(f"runs_server listening on {url} (GraphQL at {url}/graphql)")
    for note in notes:
        print(note)
    if demo is not None:
        print(f"demo project: {demo.entity}/{demo.project} ({demo.runs} runs)")
    for line in key_lines(url, require_auth, demo.api_key if demo else None):
        print(line)
    sys.stdout.flush()
    if workers > 1:
        try:
            return _serve_workers(args, sock, config, schema, workers)
        finally:
            sock.close()
    try:
        serve_forever(app, sock, args.log_level)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        store.close()
    return 0


def _serve_workers(
    args: argparse.Namespace,
    sock: socket.socket,
    config: ServerConfig,
    schema: Any,
    count: int,
) -> int:
    """Serve from ``count`` forked processes (runs_server.http.workers)."""
    import gc
    import multiprocessing
    from pathlib import Path

    from runs_server.history import HistoryExports
    from runs_server.http.app import RunsServerApp
    from runs_server.http.serving import serve_forever
    from runs_server.http.workers import Supervisor
    from runs_server.store import Store, StoreError

    # One export folder and signing secret for all: a parquetHistory link
    # one worker signed is served by whichever worker the download reaches.
    folder = tempfile.TemporaryDirectory(prefix="runs_server_exports-")
    exports = HistoryExports(Path(folder.name), url_ttl_s=config.export_url_ttl_s)

    # Each worker's open connections, in memory the forked workers share;
    # -1 until the worker serves.
    loads = multiprocessing.get_context("fork").Array("i", [-1] * count, lock=False)

    def serve(index: int) -> None:
        try:
            store = Store(args.db)
        except (StoreError, sqlite3.Error) as exc:
            print(f"runs_server: worker {index + 1}: cannot open {args.db}: {exc}")
            sys.exit(1)
        app = RunsServerApp(store, config, exports)
        if schema is not None:
            app.graphql.schema = schema
        try:
            serve_forever(app, sock, args.log_level, shared=(loads, index))
        finally:
            store.close()

    def started(pids: list[int]) -> None:
        deadline = time.monotonic() + WORKERS_START_S
        while min(loads) < 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # every worker has opened the store and serves
        shown = ", ".join(str(pid) for pid in pids)
        print(f"{count} worker processes (pids {shown}) share the port and the store")
        sys.stdout.flush()

    _preload_optional()
    gc.freeze()  # what the workers inherit stays shared (see serve_forever)
    try:
        return Supervisor(count, serve).run(started)
    finally:
        folder.cleanup()


def _preload_optional() -> None:
    """Import pyarrow (columnar pages, Parquet exports) and pandas, which
    pyarrow imports on its first array when installed, before the fork: each
    worker's first such request otherwise pays both imports (0.5 s, seconds
    on a busy machine). One process (``--workers 1``) imports them when first
    asked, as before: its idle memory stays without them."""
    for name in ("pyarrow.ipc", "pyarrow.parquet", "pandas"):
        # Optional extras: without them those pages say so when asked.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def build_parser(prog: str = "python -m runs_server") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local W&B-compatible GraphQL server on SQLite. It keeps "
        "its terminal: stop it with Ctrl-C.",
        formatter_class=_DefaultsFormatter,
    )
    add_serve_arguments(parser)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m runs_server") -> int:
    return run_serve(build_parser(prog).parse_args(argv), prog)
