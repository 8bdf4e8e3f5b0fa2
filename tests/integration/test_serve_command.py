"""`orderly-grid serve` as the README runs it: one process, simulated trading, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
from orderly_grid.v1 import grid_pb2, grid_service_pb2, grid_service_pb2_grpc

from tests.integration.harness import auth, signing_channel, start_request


async def start_serve(data_dir: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "MONGODB_", "GRID_"))}
    env.update(GRID_GRPC_PORT="0", GRID_REST_PORT="0", GRID_DATA_DIR=str(data_dir), GRID_SHUTDOWN_GRACE_S="2")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def serving_banner(process: asyncio.subprocess.Process) -> tuple[str, str, str]:
    """(gRPC target, REST url, the venue line) from the first two lines `serve` prints."""
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    match = re.search(r"gRPC on (\S+) and REST on (\S+)", line)
    assert match, line
    venue = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    return match.group(1), match.group(2), venue


async def test_ctrl_c_says_what_happens_and_the_restarted_server_resumes_the_grid(tmp_path: Path) -> None:
    process = await start_serve(tmp_path)
    try:
        grpc_target, _, venue = await serving_banner(process)
        assert "trading is SIMULATED" in venue
        async with signing_channel(grpc_target) as channel:
            grid = (await grid_service_pb2_grpc.GridServiceStub(channel).StartGrid(start_request())).grid
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert process.stdout is not None
        said = (await process.stdout.read()).decode()
        assert "grids stay RUNNING with their orders on the venue and resume on the next start" in said
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    process = await start_serve(tmp_path)
    try:
        grpc_target, _, venue = await serving_banner(process)
        assert "state resumed from" in venue
        async with signing_channel(grpc_target) as channel:
            request = grid_service_pb2.GetGridRequest(session_id=grid.session_id, user_auth=auth())
            again = (await grid_service_pb2_grpc.GridServiceStub(channel).GetGrid(request)).grid
        assert again.status == grid_pb2.GRID_STATUS_RUNNING
        assert {o.client_order_id for o in again.open_orders} == {o.client_order_id for o in grid.open_orders}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_runs_grpc_and_rest_on_the_simulator_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = await start_serve(tmp_path)
    try:
        grpc_target, rest_url, _ = await serving_banner(process)
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
