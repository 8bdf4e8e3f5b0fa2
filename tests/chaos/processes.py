"""The chaos suite's child processes: the simulator (`orderly-grid simulate`) and the service
(`orderly-grid serve`), each in its own process group so one SIGKILL takes the whole group, with
stdout and stderr in files of the run's work directory. Waits poll a condition with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.05


class ChildError(RuntimeError):
    pass


class Child:
    """One child process at a time under a name; `start` again after it ended (a restart)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_dir = log_dir
        self.incarnation = 0
        self.started_at = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self._files: list[IO[bytes]] = []

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.incarnation}.out"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.incarnation}.err"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        if self.running:
            raise ChildError(f"{self.name} is already running")
        self._close_files()
        self.incarnation += 1
        stdout, stderr = self.stdout_path.open("wb"), self.stderr_path.open("wb")
        self._files = [stdout, stderr]
        self.started_at = time.monotonic()
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group: killpg reaches anything it spawns
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    async def kill(self, timeout_s: float = 10.0) -> int | None:
        """SIGKILL the process group and reap it; returns the exit code (-9 when this kill ended it,
        anything else when it had ended by itself first), None when there was no process (never
        started, or already reaped by an earlier kill)."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout_s)
        self._close_files()
        return process.returncode

    async def terminate(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        process = self._process
        if process is None or process.returncode is not None:
            await self.kill()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout_s)
        await self.kill()

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _close_files(self) -> None:
        for handle in self._files:
            handle.close()
        self._files = []


@dataclass(frozen=True)
class SimulatorInfo:
    rest_url: str
    public_ws_url: str
    private_ws_url: str
    account_id: str
    orderly_key: str
    orderly_secret: str


def simulator_child(args: list[str], log_dir: Path) -> Child:
    argv = [sys.executable, "-m", "server.cli", "simulate", "--host", "127.0.0.1", "--port", "0", *args]
    return Child("simulator", argv, os.environ, log_dir)


async def simulator_started(child: Child, timeout_s: float = 30.0) -> SimulatorInfo:
    """The JSON line `orderly-grid simulate` prints once it serves."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.running:
            raise ChildError(f"the simulator exited ({child.returncode}): {child.stderr_tail()}")
        text = child.stdout_path.read_text()
        if text.endswith("\n"):
            data = json.loads(text.splitlines()[0])
            return SimulatorInfo(**{k: str(data[k]) for k in SimulatorInfo.__dataclass_fields__})
        await asyncio.sleep(POLL_S)
    raise ChildError(f"the simulator did not start within {timeout_s} s")


def service_env(
    sim: SimulatorInfo,
    *,
    grpc_port: int,
    rest_port: int,
    data_dir: Path,
    master_key: str,
    mongodb_uri: str | None,
    log_level: str,
) -> dict[str, str]:
    """`orderly-grid serve`'s environment (server/settings.py): the simulator's first account as the
    operator's default account, its URLs as Orderly's, loopback ports, the store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "GRID_", "MONGODB_"))}
    env.update(
        ORDERLY_ACCOUNT_ID=sim.account_id,
        ORDERLY_KEY=sim.orderly_key,
        ORDERLY_SECRET=sim.orderly_secret,
        ORDERLY_REST_URL=sim.rest_url,
        ORDERLY_PUBLIC_WS_URL=sim.public_ws_url,
        ORDERLY_PRIVATE_WS_URL=sim.private_ws_url,
        GRID_GRPC_HOST="127.0.0.1",
        GRID_GRPC_PORT=str(grpc_port),
        GRID_REST_HOST="127.0.0.1",
        GRID_REST_PORT=str(rest_port),
        GRID_DATA_DIR=str(data_dir),
        GRID_MASTER_KEY=master_key,
        GRID_LOG_LEVEL=log_level,
        GRID_SHUTDOWN_GRACE_S="1",
    )
    if mongodb_uri is not None:
        env["MONGODB_URI"] = mongodb_uri
    return env


def service_child(env: Mapping[str, str], log_dir: Path) -> Child:
    return Child("service", [sys.executable, "-m", "server.cli", "serve"], env, log_dir)


async def wait_ready(child: Child, rest_port: int, timeout_s: float) -> float | None:
    """Ms from the child's start until GET /health/ready answers 200 (store, exchange REST and the
    private WebSocket all ready); None when it exited first or the deadline passed."""
    url = f"http://127.0.0.1:{rest_port}/health/ready"
    deadline = time.monotonic() + timeout_s
    timeout = aiohttp.ClientTimeout(total=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while time.monotonic() < deadline:
            if not child.running:
                return None
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return (time.monotonic() - child.started_at) * 1000
            await asyncio.sleep(POLL_S)
    return None
