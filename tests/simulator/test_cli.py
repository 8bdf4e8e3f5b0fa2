"""`orderly-grid simulate` as a real subprocess."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp

from server.simulator import FaultConfig, SimulatorConfig
from server.simulator.cli import add_arguments, config_from_args


async def test_simulate_prints_one_json_line_and_serves_until_terminated() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "simulate",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        started = json.loads(line)
        assert set(started) == {
            "rest_url",
            "public_ws_url",
            "private_ws_url",
            "account_id",
            "orderly_key",
            "orderly_secret",
        }
        assert started["account_id"].startswith("0x")
        assert len(started["account_id"]) == 66
        assert started["orderly_key"].startswith("ed25519:")
        async with aiohttp.ClientSession() as session:
            async with session.get(started["rest_url"] + "/v1/public/info") as response:
                assert response.status == 200
                assert (await response.json())["success"] is True
            ws = await session.ws_connect(started["public_ws_url"] + "/probe")
            await ws.send_json({"event": "ping"})
            assert (await ws.receive_json())["event"] == "pong"
            await ws.close()
    finally:
        process.terminate()
        async with asyncio.timeout(20):
            code = await process.wait()
    assert code == 0


async def test_same_seed_gives_the_same_account() -> None:
    lines = []
    for _ in range(2):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "simulate",
            "--port",
            "0",
            "--seed",
            "5",
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        async with asyncio.timeout(20):
            lines.append(json.loads(await process.stdout.readline()))
        process.terminate()
        await process.wait()
    assert lines[0]["account_id"] == lines[1]["account_id"]
    assert lines[0]["orderly_secret"] == lines[1]["orderly_secret"]


async def test_missing_price_file_fails_with_a_message_naming_it(tmp_path: Path) -> None:
    missing = f"{tmp_path}/nope.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "simulate",
        "--port",
        "0",
        "--prices",
        missing,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        stdout, stderr = await process.communicate()
    assert process.returncode == 1
    assert stdout == b""
    assert "nope.csv" in stderr.decode()


def _parsed(*argv: str) -> SimulatorConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_market_and_fault_flags_reach_the_config() -> None:
    config = _parsed(
        "--liquidity-fraction",
        "0.25",
        "--liquidity-per-order",
        "0.5",
        "--funding-rate",
        "0.0001",
        "--funding-interval-ms",
        "5000",
        "--collateral",
        "5000",
        "--http-429-rate",
        "0.1",
        "--http-5xx-rate",
        "0.05",
        "--latency-ms",
        "7",
        "--lost-push-rate",
        "0.2",
        "--ws-drop-every",
        "50",
        "--ws-stalled",
    )
    assert (config.liquidity_fraction, config.liquidity_per_order) == (Decimal("0.25"), Decimal("0.5"))
    assert (config.funding_rate, config.funding_interval_ms) == (Decimal("0.0001"), 5000)
    assert config.initial_collateral == Decimal(5000)
    assert config.faults == FaultConfig(
        http_429_rate=0.1,
        http_5xx_rate=0.05,
        latency_ms=7,
        lost_push_rate=0.2,
        ws_drop_every_n_messages=50,
        ws_stalled=True,
    )
    defaults = _parsed()
    assert (defaults.liquidity_fraction, defaults.funding_rate, defaults.faults) == (
        None,
        Decimal(0),
        FaultConfig(),
    )


async def test_simulate_serves_the_funding_rate_flag_and_refuses_a_bad_share() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "simulate",
        "--port",
        "0",
        "--funding-rate",
        "0.0003",
        "--liquidity-fraction",
        "0.5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            started = json.loads(await process.stdout.readline())
        async with (
            aiohttp.ClientSession() as session,
            session.get(started["rest_url"] + "/v1/public/futures/PERP_BTC_USDC") as response,
        ):
            body = json.loads(await response.text(), parse_float=Decimal)
        assert body["data"]["est_funding_rate"] == Decimal("0.0003")
    finally:
        process.terminate()
        async with asyncio.timeout(20):
            await process.wait()
    bad = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "simulate",
        "--liquidity-fraction",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        _, stderr = await bad.communicate()
    assert bad.returncode == 2
    assert "liquidity_fraction" in stderr.decode()
