from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from tests.simulator.sim_client import RestClient, WsClient, topic, ws_auth_frame

# Tests drive prices themselves; periodic mark-price pushes would only add noise.
QUIET = SimulatorConfig(port=0, seed=7, markprice_push_interval_ms=0)


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return QUIET


@pytest.fixture
async def sim(sim_config: SimulatorConfig) -> AsyncIterator[RunningSimulator]:
    async with run_simulator(sim_config) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def rest(sim: RunningSimulator, session: aiohttp.ClientSession) -> RestClient:
    return RestClient(session, sim.rest_url, sim.account)


@pytest.fixture
async def control(sim: RunningSimulator) -> AsyncIterator[SimulatorControl]:
    async with SimulatorControl(sim.rest_url) as client:
        yield client


@pytest.fixture
async def private_ws(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> AsyncIterator[Callable[..., Awaitable[WsClient]]]:
    """Opens an authenticated private stream subscribed to the given topics."""
    opened: list[WsClient] = []

    async def open_stream(*topics: str) -> WsClient:
        ws = await session.ws_connect(f"{sim.private_ws_url}/{sim.account.account_id}")
        client = WsClient(ws)
        opened.append(client)
        await client.send(ws_auth_frame(sim.account))
        auth = await client.next(lambda f: f.get("event") == "auth")
        assert auth["success"] is True
        for name in topics:
            await client.send({"id": name, "event": "subscribe", "topic": name})
            ack = await client.next(lambda f: f.get("event") == "subscribe")
            assert ack["success"] is True
        return client

    yield open_stream
    for client in opened:
        await client.close()


__all__ = ["topic"]
