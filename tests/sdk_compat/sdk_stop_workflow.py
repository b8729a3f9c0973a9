"""Run by SDK 0.31's interpreter: log slowly until stopped. Prints "started"
once the run exists, then "stopped" if the SDK interrupted the script (as a
stop request does) or "not stopped" after about a minute.
"""

from __future__ import annotations

import time

import wandb


def main() -> None:
    run = wandb.init(
        project="stopping", id="stoppable", settings=wandb.Settings(console="off")
    )
    print("started", flush=True)
    try:
        for step in range(600):
            run.log({"x": step})
            time.sleep(0.1)
    except KeyboardInterrupt:  # how the SDK stops a script
        print("stopped", flush=True)
        raise
    print("not stopped", flush=True)
    run.finish()


if __name__ == "__main__":
    main()
