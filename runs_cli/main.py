"""Entry point of the ``runs-client`` command."""

from __future__ import annotations

import argparse

from runs_server.command import add_serve_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runs-client", description="A typed client for the W&B runs API."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the local W&B-compatible server",
        description="Run the local W&B-compatible GraphQL server on SQLite.",
    )
    add_serve_arguments(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        from runs_server.command import run_serve  # the server loads only here

        return run_serve(args)
    parser.print_help()
    return 0
