"""Fault injection (429, 5xx, latency, lost pushes, WS drops and stalls) and per-key rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiohttp
import pytest

from server.simulator import FaultConfig, RunningSimulator, SimulatorControl
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient, WsClient, topic

OpenStream = Callable[..., Awaitable[WsClient]]
BTC = "PERP_BTC_USDC"


def buy(price: str = "42000", quantity: str = "0.001", **extra: object) -> dict[str, object]:
    return {
        "symbol": BTC,
        "order_type": "LIMIT",
        "side": "BUY",
        "order_price": price,
        "order_quantity": quantity,
        **extra,
    }


async def barrier(stream: WsClient) -> list[dict[str, object]]:
    """Everything the server sent before answering a ping (pushes are written before REST answers)."""
    await stream.send({"event": "ping"})
    frames = []
    while True:
        frame = await stream.next()
        if frame.get("event") == "pong":
            return frames
        frames.append(frame)


async def test_injected_429_and_5xx_answer_every_request_at_rate_one(
    rest: RestClient, control: SimulatorControl
) -> None:
    await control.set_faults(FaultConfig(http_429_rate=1.0))
    status, payload = await rest.call("GET", "/v1/public/info", signed=False)
    assert (status, payload["code"]) == (429, -1003)
    await control.set_faults(FaultConfig(http_5xx_rate=1.0))
    status, payload = await rest.call("GET", "/v1/positions")
    assert status == 500
    assert payload["success"] is False
    await control.set_faults(FaultConfig())
    status, _ = await rest.call("GET", "/v1/positions")
    assert status == 200


async def test_fault_rates_are_seeded_and_partial(rest: RestClient, control: SimulatorControl) -> None:
    await control.set_faults(FaultConfig(http_429_rate=0.5))
    statuses = [(await rest.call("GET", "/v1/public/system_info", signed=False))[0] for _ in range(40)]
    assert 5 < statuses.count(429) < 35
    assert set(statuses) == {200, 429}


async def test_added_latency_delays_answers(rest: RestClient, control: SimulatorControl) -> None:
    await control.set_faults(FaultConfig(latency_ms=150))
    started = time.monotonic()
    status, _ = await rest.call("GET", "/v1/public/info", signed=False)
    assert status == 200
    assert time.monotonic() - started >= 0.15


async def test_lost_push_fill_still_happens_and_is_visible_over_rest(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport", "position")
    await control.set_faults(FaultConfig(lost_push_rate=1.0))
    _, created = await rest.place(**buy())
    assert await control.set_price(BTC, "41900") == 1
    frames = await barrier(stream)
    assert [f for f in frames if f.get("topic") == "executionreport"] == []
    assert [f.get("topic") for f in frames] == ["position"]
    _, order = await rest.call("GET", f"/v1/order/{created['data']['order_id']}")
    assert order["data"]["status"] == "FILLED"
    _, trades = await rest.call("GET", "/v1/trades")
    assert [row["order_id"] for row in trades["data"]["rows"]] == [created["data"]["order_id"]]


async def test_control_drop_closes_every_websocket(
    control: SimulatorControl, private_ws: OpenStream, sim: RunningSimulator
) -> None:
    stream = await private_ws("executionreport")
    assert await control.drop_websockets() == 1
    async with asyncio.timeout(5):
        await stream.closed.wait()
    assert (await control.state())["websockets"] == 0


async def test_socket_is_dropped_after_n_messages(
    sim: RunningSimulator, session: aiohttp.ClientSession, control: SimulatorControl
) -> None:
    await control.set_faults(FaultConfig(ws_drop_every_n_messages=2))
    stream = WsClient(await session.ws_connect(f"{sim.public_ws_url}/x"))
    await stream.send({"id": "a", "event": "subscribe", "topic": "PERP_BTC_USDC@trade"})
    await stream.send({"event": "ping"})
    assert (await stream.next())["event"] == "subscribe"
    assert (await stream.next())["event"] == "pong"
    async with asyncio.timeout(5):
        await stream.closed.wait()


async def test_stalled_socket_stays_open_but_delivers_nothing(
    sim: RunningSimulator, session: aiohttp.ClientSession, control: SimulatorControl
) -> None:
    stream = WsClient(await session.ws_connect(f"{sim.public_ws_url}/x"))
    await stream.send({"id": "m", "event": "subscribe", "topic": "PERP_BTC_USDC@markprice"})
    await stream.next(topic("PERP_BTC_USDC@markprice"))
    await control.set_faults(FaultConfig(ws_stalled=True))
    await control.set_price(BTC, "42100")
    await stream.send({"event": "ping"})
    await control.set_faults(FaultConfig())
    await stream.send({"event": "ping"})
    assert await stream.next() == {"event": "pong", "ts": pytest.approx(stream_now(), abs=60_000)}
    assert stream.drain() == []
    await stream.close()


def stream_now() -> int:
    return time.time_ns() // 1_000_000


async def test_creates_beyond_ten_per_second_are_rate_limited(rest: RestClient) -> None:
    results = await asyncio.gather(*(rest.place(**buy(str(41000 + index))) for index in range(20)))
    statuses = [status for status, _ in results]
    assert statuses.count(200) >= 10
    assert statuses.count(429) >= 1
    assert {payload["code"] for status, payload in results if status == 429} == {-1003}


async def test_batch_orders_count_towards_the_create_limit(rest: RestClient) -> None:
    for index in range(8):
        assert (await rest.place(**buy(str(41000 + index))))[0] == 200
    orders = [buy(str(41100 + index)) for index in range(10)]
    status, payload = await rest.call("POST", "/v1/batch-order", {"orders": orders})
    assert (status, payload["code"]) == (429, -1003)


async def test_second_batch_within_a_second_is_rate_limited(rest: RestClient) -> None:
    status, _ = await rest.call("POST", "/v1/batch-order", {"orders": [buy("41000")]})
    assert status == 200
    status, payload = await rest.call("POST", "/v1/batch-order", {"orders": [buy("41001")]})
    assert (status, payload["code"]) == (429, -1003)


async def test_limits_are_per_orderly_key(rest: RestClient, control: SimulatorControl) -> None:
    for index in range(10):
        await rest.place(**buy(str(41000 + index)))
    other = await control.create_account()
    status, _ = await rest.call("POST", "/v1/order", buy("41000"), account=other)
    assert status == 200


@pytest.mark.parametrize("sim_config", [replace(QUIET, rate_limits=False)])
async def test_rate_limits_can_be_switched_off(rest: RestClient) -> None:
    statuses = [(await rest.place(**buy(str(41000 + index))))[0] for index in range(15)]
    assert statuses == [200] * 15
