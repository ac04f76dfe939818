"""Worker processes we spawn (signatures, proving, kernel compiles) and how they end.

Every pool uses the ``spawn`` start method, never ``fork``: the node holds a database
connection, an event loop and threads that a forked child must not inherit. A node killed
hard (SIGKILL, crash tests) cannot shut its pools down, and a worker blocked on its task
queue would otherwise live on; :func:`exit_when_orphaned` is every pool's initializer.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["create_spawn_pool", "exit_when_orphaned"]

_PARENT_POLL_SECONDS = 0.5


def exit_when_orphaned() -> None:
    """Pool-worker initializer: exit as soon as the process that started this worker is gone.

    A daemon thread watches the parent (the node with ``spawn``, the fork server with
    ``forkserver``) and ends the worker with ``os._exit`` once it changes.
    """
    parent_pid = os.getppid()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def create_spawn_pool(max_workers: int) -> ProcessPoolExecutor:
    """Return a pool of ``max_workers`` spawned processes that die with the node."""
    return ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_when_orphaned,
    )
