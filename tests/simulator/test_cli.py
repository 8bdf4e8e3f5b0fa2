"""`orderly-grid simulate` as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp


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
