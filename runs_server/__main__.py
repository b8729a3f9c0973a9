"""``python -m runs_server``: the same as ``runs-client serve``."""

from __future__ import annotations

import sys

from runs_server.command import main

if __name__ == "__main__":
    sys.exit(main())
