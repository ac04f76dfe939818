"""A node killed hard leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

_PARENT = """
import os, sys
from starkperp.processes import create_spawn_pool
if __name__ == "__main__":
    pool = create_spawn_pool(1)
    print(pool.submit(os.getpid).result(timeout=60), flush=True)
    sys.stdin.read()
"""


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_worker_exits_when_the_node_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker != parent.pid and _is_alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _is_alive(worker), "the spawned worker outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
