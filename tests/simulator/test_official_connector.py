"""Conformance: Orderly's official Python connector places, queries and cancels on the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.simulator import RunningSimulator

REPO = Path(__file__).resolve().parents[2]
CONNECTOR_VENV = REPO / ".venv-connector"
CONNECTOR_PYTHON = CONNECTOR_VENV / "bin" / "python"
CONNECTOR_PIN = "orderly-evm-connector==0.2.9"


def connector_python() -> Path:
    """The connector's own venv (it pins eth-account<0.11 and cryptography<43); created once, then reused."""
    if CONNECTOR_PYTHON.exists():
        check = subprocess.run([CONNECTOR_PYTHON, "-c", "import orderly_evm_connector"], capture_output=True)
        if check.returncode == 0:
            return CONNECTOR_PYTHON
    try:
        subprocess.run([sys.executable, "-m", "venv", CONNECTOR_VENV], check=True, capture_output=True)
        subprocess.run(
            [CONNECTOR_PYTHON, "-m", "pip", "install", "-q", CONNECTOR_PIN],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot create {CONNECTOR_VENV} with {CONNECTOR_PIN} (no package registry?): {exc}")
    return CONNECTOR_PYTHON


@pytest.fixture(scope="module")
def python_with_connector() -> Path:
    return connector_python()


async def test_official_connector_places_queries_cancels_and_receives_reports(
    sim: RunningSimulator, python_with_connector: Path
) -> None:
    env = {
        **os.environ,
        "SIM_REST_URL": sim.rest_url,
        "SIM_PUBLIC_WS_URL": sim.public_ws_url,
        "SIM_PRIVATE_WS_URL": sim.private_ws_url,
        "SIM_ACCOUNT_ID": sim.account.account_id,
        "SIM_ORDERLY_KEY": sim.account.orderly_key,
        "SIM_ORDERLY_SECRET": sim.account.orderly_secret,
    }
    script = Path(__file__).with_name("connector_client.py")
    process = await asyncio.create_subprocess_exec(
        python_with_connector, script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, (stdout.decode(), stderr.decode()[-2000:])
    result = json.loads(stdout.decode().strip().splitlines()[-1])

    assert result["auth"]["success"] is True
    assert result["subscribe_ack"]["success"] is True
    created = result["created"]["data"]
    assert created["client_order_id"] == "connector-1"
    assert created["error_message"] == "none"
    queried = result["queried"]["data"]
    assert (queried["order_id"], queried["status"], queried["price"]) == (created["order_id"], "NEW", 42000)
    assert result["cancelled"]["data"] == {"status": "CANCEL_SENT"}
    # The connector hands HTTP 400 answers back as values.
    assert (result["rejected"]["success"], result["rejected"]["code"]) == (False, -1103)
    assert result["new_report"]["data"]["orderId"] == created["order_id"]
    assert result["new_report"]["data"]["clientOrderId"] == "connector-1"
    assert result["cancelled_report"]["data"]["orderId"] == created["order_id"]
