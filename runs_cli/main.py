"""Entry point of the ``runs-client`` command."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runs-client")
    parser.parse_args(argv)
    parser.print_help()
    return 0
