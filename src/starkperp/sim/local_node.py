"""A complete node in this process: API server on a free local port, sequencer, durable log,
and the settlement service on the embedded L1 (journaled beside the log, so it survives).

:class:`LocalNode` is what the main job and the integration tests start: the uvicorn server
runs the node's event loop in a background thread (its lifespan starts and stops the node,
which starts and stops settlement); the caller talks to it over HTTP like any client, and to
the embedded L1 through :attr:`LocalNode.l1` while holding :attr:`LocalNode.l1_lock`.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import uvicorn

from starkperp.api.app import create_app
from starkperp.l1.client import L1Client
from starkperp.node import config as node_config
from starkperp.node.config import NodeConfig, SettlementConfig
from starkperp.node.service import Node
from starkperp.node.settlement import SettlementService

__all__ = ["LocalNode", "get_free_port"]


def get_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalNode:
    """Start a node with settlement on the embedded L1 and serve its API on 127.0.0.1."""

    def __init__(
        self,
        settlement: SettlementConfig,
        *,
        db_path: str | None = None,
        config: NodeConfig | None = None,
        signature_workers: int = 0,
    ) -> None:
        if db_path is None:
            db_path = str(Path(tempfile.mkdtemp(prefix="starkperp-")) / "node.sqlite")
        base = config if config is not None else node_config.minimal(db_path)
        self.config = replace(base, db_url=db_path, enable_testnet_tokens=False)
        self.settlement = SettlementService(settlement, chain_path=db_path + ".l1.sqlite")
        self.node = Node(
            self.config, signature_workers=signature_workers, settlement=self.settlement
        )
        self.port = get_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.node),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def l1(self) -> L1Client:
        """Return the embedded L1 client (hold :attr:`l1_lock` while using it)."""
        return self.settlement.l1

    @property
    def l1_lock(self) -> threading.RLock:
        """Return the lock that serialises every use of the embedded chain."""
        return self.settlement.l1_lock

    def start(self, timeout: float = 60.0) -> None:
        """Serve the API (the node starts; settlement deploys L1 in the background)."""
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Shut down gracefully: the server, the node, settlement and its provers."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LocalNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
