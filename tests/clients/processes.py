"""Run `gridctl` and the README examples as real subprocesses, key in the environment only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "clients" / "python" / "examples"
PROCESS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def client_env(target: str, wallet_key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_GRID_", "GRIDCTL_"))}
    env["GRIDCTL_TARGET"] = target
    if wallet_key is not None:
        env["ORDERLY_GRID_WALLET_KEY"] = wallet_key
    return env


def _as_background_job() -> None:
    # What a non-interactive shell does to a job started with `&`: SIGINT ignored, inherited.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def spawn(
    args: list[str], env: dict[str, str], *, background_job: bool = False
) -> asyncio.subprocess.Process:
    """`python ARGS`; `background_job` starts it as `cmd &` in a script would (SIGINT ignored)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_as_background_job if background_job else None,
    )


async def finish(process: asyncio.subprocess.Process) -> Finished:
    try:
        out, err = await asyncio.wait_for(process.communicate(), PROCESS_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def gridctl(target: str, *args: str, wallet_key: str | None) -> Finished:
    """`python -m orderly_grid.cli ARGS` while the test's event loop keeps serving."""
    return await finish(await spawn(["-m", "orderly_grid.cli", *args], client_env(target, wallet_key)))


async def example(target: str, name: str, *args: str, wallet_key: str) -> Finished:
    return await finish(await spawn([str(EXAMPLES / name), *args], client_env(target, wallet_key)))
