"""The venue being slow or down at start-up never stops the service (issue 10, finding 4): it starts,
serves (gRPC and REST listening, liveness ok), reports the exchange not ready, answers the calls that
need the exchange UNAVAILABLE with a RetryInfo, and keeps retrying with backoff. Once the venue
answers, the stored sessions resume and the service turns ready. SIGTERM while it is still retrying
stops it promptly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_pb2, health_service_pb2, health_service_pb2_grpc
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.settings import Settings
from server.simulator import FaultConfig, RunningSimulator, SimulatorControl
from server.simulator.accounts import SimAccount
from server.store import SessionStatus
from tests.integration.harness import (
    A_SESSION,
    B_SESSION,
    OTHER_USER,
    OTHER_USER_KEY,
    SYMBOL,
    WITH_ACCOUNTS,
    Running,
    auth,
    prefix_of,
    register_request,
    rpc_error,
    running_app,
    service_with_venue_faults,
    signed,
    start_request,
    wait_for_order,
    wait_until,
)
from tests.integration.rest_signing import START_FIELDS

# Start-up does not wait for the venue; failed connection attempts are retried within milliseconds.
RETRY_FIELDS: dict[str, Any] = {
    "exchange_start_wait_ms": 0,
    "exchange_retry_base_ms": 50,
    "exchange_retry_max_ms": 200,
}
RETRYING = replace(Settings(), **RETRY_FIELDS)
# One attempt waits at most this long for the private stream's first handshake.
QUICK_CONNECT: dict[str, Any] = {"connect_timeout_ms": 400}
# The venue's fault at start-up -> what the failed attempts report.
VENUE_FAULTS = {
    "websocket_stalled": (FaultConfig(ws_stalled=True), "private stream did not connect"),
    "rest_erring": (FaultConfig(http_5xx_rate=1.0), "500"),
}


async def readiness(server: Running) -> health_service_pb2.GetReadinessResponse:
    health = health_service_pb2_grpc.HealthServiceStub(server.channel)
    return await health.GetReadiness(health_service_pb2.GetReadinessRequest(), timeout=5)


def checks_of(response: health_service_pb2.GetReadinessResponse) -> dict[str, tuple[bool, str]]:
    return {check.name: (check.ok, check.detail) for check in response.checks}


@pytest.mark.parametrize("fault", sorted(VENUE_FAULTS))
async def test_the_service_serves_not_ready_while_the_venue_fails_and_resumes_once_it_answers(
    fault: str, sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as first:
        prefix = prefix_of((await first.stub.StartGrid(start_request())).grid)
    venue_fault, cause = VENUE_FAULTS[fault]
    await control.set_faults(venue_fault)

    async with running_app(
        sim, tmp_path, with_rest=True, settings=RETRYING, exchange_overrides=QUICK_CONNECT
    ) as server:
        health = health_service_pb2_grpc.HealthServiceStub(server.channel)
        liveness = await health.GetLiveness(health_service_pb2.GetLivenessRequest(), timeout=5)
        assert liveness.status == "ok"

        async def a_failed_attempt_is_reported() -> bool:
            _, detail = checks_of(await readiness(server))["exchange_ws"]
            return cause in detail

        await wait_until(a_failed_attempt_is_reported, f"readiness to report the failed attempt ({cause})")
        response = await readiness(server)
        checks = checks_of(response)
        assert response.ready is False
        assert checks["store"][0] is True
        assert checks["exchange_rest"][0] is False
        assert checks["exchange_ws"][0] is False
        assert "retrying" in checks["exchange_ws"][1]

        # Reads are served from the store; the stored session waits, untouched.
        service = server.app.service
        assert service is not None
        assert not service.runners
        assert (await server.get(A_SESSION)).status == grid_pb2.GRID_STATUS_RUNNING

        # Calls that need the exchange answer at once: UNAVAILABLE, with a RetryInfo.
        config = grid_pb2.GridConfig(**{**START_FIELDS, "direction": grid_pb2.DIRECTION_BOTH})
        preview = pb.PreviewGridRequest(config=config)
        calls: list[Any] = [
            server.stub.StartGrid(start_request(user_auth=auth(OTHER_USER)), timeout=5),
            server.stub.StopGrid(pb.StopGridRequest(session_id=A_SESSION, user_auth=auth()), timeout=5),
            server.stub.PreviewGrid(preview, timeout=5),
        ]
        for call in calls:
            code, error = await rpc_error(call)
            assert (code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "EXCHANGE_UNAVAILABLE"), error
            assert "exchange is not connected" in error.message
            assert error.retry_after_ms is not None
            assert error.retry_after_ms > 0

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.app.rest_url}/health") as live:
                assert live.status == 200
            async with http.get(f"{server.app.rest_url}/health/ready") as ready:
                body = await ready.json()
            assert ready.status == 503, body
            failed = {c["name"] for c in body["data"]["checks"] if not c["ok"]}
            assert failed == {"exchange_rest", "exchange_ws", "sessions"}  # sessions wait for it
            async with http.post(f"{server.app.rest_url}/api/grid/preview", json=START_FIELDS) as previewed:
                body = await previewed.json()
            assert previewed.status == 503, body
            assert body["error_code"] == "EXCHANGE_UNAVAILABLE"
            assert body["details"]["retry_after_ms"] > 0

        # The venue answers again: the service connects, resumes the stored session, turns ready.
        await control.set_faults(FaultConfig())

        async def ready_now() -> bool:
            return (await readiness(server)).ready

        await wait_until(ready_now, "readiness to turn ready once the venue answers", timeout_s=15)
        assert [runner.session_id for runner in service.runners] == [A_SESSION]
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(sim, "SELL", "43000", "the resumed session's counter sell", prefix=prefix)

        stopped = await server.stub.StopGrid(pb.StopGridRequest(session_id=A_SESSION, user_auth=auth()))
        assert stopped.grid.status == grid_pb2.GRID_STATUS_STOPPED
        again = (await server.stub.StartGrid(start_request(current_price=""))).grid
        assert again.status == grid_pb2.GRID_STATUS_RUNNING
        assert len(again.open_orders) == 5


async def test_shutdown_while_the_exchange_is_still_connecting_is_prompt(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    await control.set_faults(FaultConfig(ws_stalled=True))
    # An attempt that would wait 30 s for the stalled private stream is under way when SIGTERM comes.
    async with running_app(
        sim, tmp_path, settings=RETRYING, exchange_overrides={"connect_timeout_ms": 30_000}
    ) as server:
        response = await readiness(server)
        assert response.ready is False
        assert checks_of(response)["exchange_ws"] == (False, "not connected: attempt 1 under way")
        started = time.monotonic()
        await server.app.stop(grace_s=1.0)
        assert time.monotonic() - started < 3.0
        assert server.app.exchange is None
        assert server.app.service is None


def serve_environment(sim: RunningSimulator, data_dir: Path) -> dict[str, str]:
    """`serve` trading on the simulator's account as if it were Orderly (ORDERLY_* set): the venue's
    faults reach it exactly as a real venue's would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "MONGODB_", "GRID_"))}
    env.update(
        GRID_GRPC_PORT="0",
        GRID_REST_PORT="0",
        GRID_DATA_DIR=str(data_dir),
        GRID_SHUTDOWN_GRACE_S="1",
        GRID_EXCHANGE_START_WAIT_MS="0",
        GRID_EXCHANGE_CONNECT_TIMEOUT_MS="300",
        GRID_EXCHANGE_RETRY_BASE_MS="50",
        GRID_EXCHANGE_RETRY_MAX_MS="200",
        ORDERLY_ACCOUNT_ID=sim.account.account_id,
        ORDERLY_KEY=sim.account.orderly_key,
        ORDERLY_SECRET=sim.account.orderly_secret,
        ORDERLY_REST_URL=sim.rest_url,
        ORDERLY_PUBLIC_WS_URL=sim.public_ws_url,
        ORDERLY_PRIVATE_WS_URL=sim.private_ws_url,
    )
    return env


async def test_serve_does_not_exit_while_the_venue_websocket_stalls(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    await control.set_faults(FaultConfig(ws_stalled=True))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        env=serve_environment(sim, tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = re.search(r"REST on (\S+)", line)
        assert match, line
        rest_url = match.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{rest_url}/health") as live:
                assert live.status == 200

            async def ready_detail() -> tuple[int, str]:
                async with http.get(f"{rest_url}/health/ready") as response:
                    body = await response.json()
                checks = {c["name"]: c for c in body["data"]["checks"]}
                return response.status, str(checks["exchange_ws"]["detail"])

            async def retried_after_failures() -> bool:
                status, detail = await ready_detail()
                failed = re.search(r"attempt (\d+) failed", detail)
                return status == 503 and failed is not None and int(failed.group(1)) >= 3

            await wait_until(retried_after_failures, "several failed connection attempts", timeout_s=15)
            assert process.returncode is None  # failed attempts never end the process

            await control.set_faults(FaultConfig())

            async def ready() -> bool:
                return (await ready_detail())[0] == 200

            await wait_until(ready, "readiness to turn ready once the venue answers", timeout_s=15)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert process.stderr is not None
        logs = (await process.stderr.read()).decode()
        assert '"event": "exchange_connect_failed"' in logs
        assert '"event": "stopped"' in logs
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# --- a user's own account: its exchange is opened by the pool when a session needs it ---------------


def b_start() -> pb.StartGridRequest:
    """OTHER_USER's StartGrid, signed: it trades on their registered account."""
    request = start_request()
    request.ClearField("user_auth")
    return signed("StartGrid", request, OTHER_USER_KEY)  # type: ignore[return-value]


def account_orders(sim: RunningSimulator, account: SimAccount) -> int:
    return len(sim.context.venue.open_orders(account.account_id, SYMBOL))


async def test_start_grid_on_a_users_account_whose_stream_stalls_is_unavailable_then_trades(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    b_account = await control.create_account("50000")
    async with running_app(
        sim, tmp_path, settings=replace(WITH_ACCOUNTS, **RETRY_FIELDS), exchange_overrides=QUICK_CONNECT
    ) as server:
        await server.stub.RegisterAccount(register_request(b_account))
        await control.set_faults(FaultConfig(ws_stalled=True))
        started = time.monotonic()
        code, error = await rpc_error(server.stub.StartGrid(b_start(), timeout=5))
        assert (code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "EXCHANGE_UNAVAILABLE"), error
        assert "private stream did not connect" in error.message
        assert error.retry_after_ms is not None
        assert error.retry_after_ms > 0
        assert time.monotonic() - started < 3.0
        assert account_orders(sim, b_account) == 0

        await control.set_faults(FaultConfig())
        grid = (await server.stub.StartGrid(b_start())).grid
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert account_orders(sim, b_account) == 5


async def test_a_session_whose_accounts_stream_stalls_at_start_is_held_and_resumes_once_it_connects(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    b_account = await control.create_account("50000")
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        await server.stub.RegisterAccount(register_request(b_account))
        await server.stub.StartGrid(b_start())
        assert account_orders(sim, b_account) == 5

    async with service_with_venue_faults(
        sim, tmp_path, control, FaultConfig(ws_stalled=True), **QUICK_CONNECT
    ) as service:
        assert not service.runners
        assert service.held_session_ids == (B_SESSION,)
        record = await service.store.get_session(B_SESSION)
        assert record is not None
        assert record.status == SessionStatus.RUNNING
        with pytest.raises(DomainError) as refused:
            await service.stop_grid(OTHER_USER, B_SESSION, None)
        assert refused.value.reason == ErrorReason.EXCHANGE_UNAVAILABLE

        await control.set_faults(FaultConfig())  # the account's stream connects on a retry

        async def resumed() -> bool:
            return [r.session_id for r in service.runners] == [B_SESSION] and not service.held_session_ids

        await wait_until(resumed, "the held session to resume once its account connects")
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(
            sim,
            "SELL",
            "43000",
            "B's counter sell on its own account",
            orders=lambda: sim.context.venue.open_orders(b_account.account_id, SYMBOL),
        )
