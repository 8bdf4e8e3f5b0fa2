"""Runs nx-27017 (a MongoDB wire-protocol server backed by SQLite) as its own process on a free
loopback port, for the Mongo contract run and bench/store.py. Readiness is a polled ping with a
deadline, never a fixed sleep."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

NX_BINARY = Path(sys.executable).with_name("nx-27017")
START_DEADLINE_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NxServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        # --data-dir: one SQLite file per logical database. With a single --db file nx-27017 shares
        # collections between database names, which would defeat a fresh database per test.
        self.data_dir = workdir / "data"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        """Start on a fresh free port (retried if another process took it first), same data dir."""
        for _ in range(3):
            self.port = free_port()
            with open(self.workdir / "nx.stderr", "ab") as stderr:
                self._process = subprocess.Popen(
                    [
                        str(NX_BINARY),
                        "--data-dir",
                        str(self.data_dir),
                        "-p",
                        str(self.port),
                        "--log-file",
                        str(self.workdir / "nx.log"),
                        "--pid-file",
                        str(self.workdir / "nx.pid"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            if self._wait_ready():
                return
            self.kill()
        raise RuntimeError(f"nx-27017 did not start; see {self.workdir}/nx.stderr")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            client: MongoClient[dict[str, object]] = MongoClient(self.uri, serverSelectionTimeoutMS=250)
            try:
                client.admin.command("ping")
                return True
            except PyMongoError:
                time.sleep(0.05)  # poll interval while waiting for the listener
            finally:
                client.close()
        return False

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything, as in a crash."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None


def collect_sockets_left_by_pymongo() -> None:
    """Closing an AsyncMongoClient while its monitor is reconnecting to a dead server can leave that
    connect's socket unclosed (a pymongo bug, seen with 4.20). Collect it now, with its ResourceWarning
    silenced, so it is not reported against whichever test happens to run the next GC."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
