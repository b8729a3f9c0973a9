"""Cross-check: the per-run baseline of histories_speed.py against the SDK.

The baseline in ``histories_speed.py`` re-creates the official client's
per-run way (one keep-alive connection, the SDK's per-run operation, one
request after another) with plain httpx and ``json``. This script times it
next to the official SDK's own ``Runs.histories()`` (wandb 0.18 in
``.venv-sdk``, ``make sdk-venv``) on the same server: the baseline should be
as fast as the SDK or faster, so the speed-ups measured against it are not
flattered. Run it once by hand:

    .venv/bin/python benchmarks/sdk_crosscheck.py [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from histories_speed import baseline, demo_names, server

from runs_server.loaders.demo import SEED

ROOT = Path(__file__).resolve().parent.parent
SDK_PYTHON = Path(os.environ.get("RUNS_SDK_PYTHON", ROOT / ".venv-sdk/bin/python"))

SDK_SCRIPT = """
import json, sys, time
import wandb
names, keys = json.loads(sys.argv[1]), json.loads(sys.argv[2])
api = wandb.Api(timeout=120)
runs = api.runs("demo/mnist", filters={"name": {"$in": names}})
t0 = time.perf_counter()
frame = runs.histories(samples=500, keys=keys, format="pandas")
print(json.dumps({"wall": time.perf_counter() - t0, "rows": len(frame)}))
"""


def sdk(url: str, names: list[str], keys: list[str] | None) -> dict[str, float]:
    # The demo user's key: the first draw of the demo seed's RNG.
    key = f"{random.Random(SEED).getrandbits(160):040x}"
    env = {**os.environ, "WANDB_BASE_URL": url, "WANDB_API_KEY": key,
           "WANDB_SILENT": "true", "WANDB_MODE": "online"}  # fmt: skip
    env.pop("WANDB_ENTITY", None)
    out = subprocess.run(
        [str(SDK_PYTHON), "-c", SDK_SCRIPT, json.dumps(names), json.dumps(keys)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"the SDK failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    if not SDK_PYTHON.exists():
        print(f"{SDK_PYTHON} is missing: run `make sdk-venv`", file=sys.stderr)
        return 1
    with server(args.latency_ms) as url:
        names = demo_names(url)
        for label, chosen, keys in (
            ("120 runs x 500 x 1 key", names[:120], ["loss"]),
            ("demo full rows", names, None),
        ):
            base = baseline(url, chosen, keys)
            official = sdk(url, chosen, keys)
            print(f"{label}, {args.latency_ms:g} ms: baseline {base.wall:.2f}s "
                  f"({len(base.frame)} rows), SDK 0.18 histories() "
                  f"{official['wall']:.2f}s ({official['rows']} rows): SDK / "
                  f"baseline {official['wall'] / base.wall:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ["NETRC"] = os.devnull
    sys.exit(main())
