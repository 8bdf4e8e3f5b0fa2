"""`orderly-grid serve` as the README runs it: one process, simulated trading, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
from orderly_grid.v1 import grid_pb2, grid_service_pb2_grpc

from tests.integration.harness import signing_channel, start_request


async def test_serve_runs_grpc_and_rest_on_the_simulator_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "MONGODB_", "GRID_"))}
    env.update(GRID_GRPC_PORT="0", GRID_REST_PORT="0", GRID_DATA_DIR=str(tmp_path), GRID_SHUTDOWN_GRACE_S="2")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = re.search(r"gRPC on (\S+) and REST on (\S+)", line)
        assert match, line
        grpc_target, rest_url = match.groups()
        async with aiohttp.ClientSession() as http, http.get(f"{rest_url}/health") as response:
            assert response.status == 200
        async with signing_channel(grpc_target) as channel:
            stub = grid_service_pb2_grpc.GridServiceStub(channel)
            grid = (await stub.StartGrid(start_request())).grid
            assert grid.status == grid_pb2.GRID_STATUS_RUNNING
            assert len(grid.open_orders) == 5
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert process.stderr is not None
        logs = (await process.stderr.read()).decode()
        assert '"event": "trading_is_simulated"' in logs
        assert '"event": "stopped"' in logs
        assert (tmp_path / "orderly-grid.sqlite3").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
