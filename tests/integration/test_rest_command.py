"""`orderly-grid rest`: the REST shim as its own process, translating onto a gRPC server it does
not run (here the real service, in the test's process)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from server.simulator import RunningSimulator
from tests.integration.harness import running_app


async def test_rest_process_serves_the_routes_of_a_grpc_server_elsewhere(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "MONGODB_", "GRID_"))}
        env.update(GRID_REST_PORT="0", GRID_GRPC_TARGET=server.app.grpc_target)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "rest", env=env, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            match = re.search(r"REST on (\S+) -> gRPC (\S+)", line)
            assert match, line
            rest_url, target = match.groups()
            assert target == server.app.grpc_target
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{rest_url}/health/ready") as response:
                    body = await response.json()
                    assert response.status == 200, body
                assert {check["name"] for check in body["data"]["checks"]} == {
                    "store",
                    "exchange_rest",
                    "exchange_ws",
                    "sessions",
                }
                async with http.get(f"{rest_url}/api/grid/status/nobody_BTCUSDT") as response:
                    body = await response.json()
                    assert response.status == 401, body  # unsigned: refused by the gRPC server's auth
                    assert body["success"] is False
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_rest_process_refuses_to_start_without_a_grpc_target() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "MONGODB_", "GRID_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "rest", env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    output = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
    assert await process.wait() == 2
    assert "GRID_GRPC_TARGET is required" in output
