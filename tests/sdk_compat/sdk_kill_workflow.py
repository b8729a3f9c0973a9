"""Run by SDK 0.31's interpreter: log steps over a few seconds, for the
server to be killed and restarted under. Prints "done" at the end.

Usage: python sdk_kill_workflow.py STEPS
"""

from __future__ import annotations

import sys
import time

import wandb


def main() -> None:
    steps = int(sys.argv[1])
    settings = wandb.Settings(
        console="off",
        save_code=False,
        # Post every second (values under 1 s are not taken) and retry soon,
        # so the server dies mid-stream and the test waits out no backoff.
        x_file_stream_transmit_interval=1.0,
        x_file_stream_retry_wait_min_seconds=0.2,
        x_file_stream_retry_wait_max_seconds=1.0,
    )
    run = wandb.init(project="killed", id="survivor", settings=settings)
    for step in range(steps):
        run.log({"loss": 1.0 / (step + 1), "step_sq": step * step})
        time.sleep(0.003)  # a few seconds of logging: posts fall before and after
    run.finish()
    print("done")


if __name__ == "__main__":
    main()
