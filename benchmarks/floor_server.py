"""The latency floor of ``concurrency_speed``: an ideal server for one page.

``python benchmarks/floor_server.py --page FILE --cpu-ms X --workers N``
serves HTTP/1.1 on a free loopback port (printed as ``listening on port P``):
every POST is answered with the bytes of FILE (a real listing page, taken
from runs_server) after exactly X ms of CPU time, in one write. It has what a
server of N processes sharing cores with its clients can have at best:

- no framework: a selector loop per worker, no parsing beyond the head;
- exact work: X ms of this thread's CPU time (time preempted is not counted
  as work done), so every request costs the same;
- balanced keep-alive connections: a worker holding more connections than
  another leaves a new one to it (for at most ``--balance-wait-ms``);
- first come, first served on each worker, as runs_server's inline lane.

What it measures is the scheduling alone: N workers and the clients sharing
the machine's cores, with the same CPU per page as the server it stands in
for. A p99 ratio this server cannot reach is under the machine's floor.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

BALANCE_WAIT_S = 0.02
MAX_HEAD_BYTES = 64 * 1024
PR_SET_PDEATHSIG = 1


def burn(cpu_s: float) -> None:
    """Spend ``cpu_s`` seconds of this thread's CPU time."""
    end = time.thread_time() + cpu_s
    total = 0
    while time.thread_time() < end:
        for i in range(100):
            total += i


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def request(self) -> bool | None:
        """True when a whole request is buffered (and drops it), False when
        more bytes are needed, None when the client closed."""
        data = self.sock.recv(65536)
        if not data:
            return None
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                return None
            return False
        length = 0
        for line in self.buffer[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return False
        self.buffer = self.buffer[end + 4 + length :]
        return True


def worker(
    listener: socket.socket,
    loads: Any,
    slot: int,
    reply: bytes,
    cpu_s: float,
    balance_wait_s: float = BALANCE_WAIT_S,
) -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if sys.platform == "linux":  # die with the parent, even under kill -9
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    declined_at: float | None = None
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                others = [n for i, n in enumerate(loads) if i != slot]
                if others and loads[slot] > min(others):
                    now = time.monotonic()
                    declined_at = declined_at if declined_at is not None else now
                    if now - declined_at < balance_wait_s:
                        time.sleep(0.001)
                        continue
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    continue
                declined_at = None
                loads[slot] += 1
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, Connection(sock))
                continue
            connection: Connection = key.data
            try:
                state = connection.request()
            except (BlockingIOError, ConnectionError):
                continue
            if state is None:
                selector.unregister(connection.sock)
                connection.sock.close()
                loads[slot] -= 1
            elif state:
                burn(cpu_s)
                connection.sock.setblocking(True)
                connection.sock.sendall(reply)
                connection.sock.setblocking(False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", type=Path, required=True)
    parser.add_argument("--cpu-ms", type=float, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument(
        "--balance-wait-ms",
        type=float,
        default=BALANCE_WAIT_S * 1000,
        help="how long a worker leaves a connection to a lighter one",
    )
    args = parser.parse_args()
    body = args.page.read_bytes()
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    loads = multiprocessing.get_context("fork").Array("i", args.workers, lock=False)
    children = []
    for slot in range(args.workers):
        pid = os.fork()
        if pid == 0:
            worker(
                listener,
                loads,
                slot,
                head + body,
                args.cpu_ms / 1000,
                args.balance_wait_ms / 1000,
            )
            os._exit(0)
        children.append(pid)

    def stop(*_: Any) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on port {listener.getsockname()[1]}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
