"""WebSocket behaviour: acks, auth (frame and URL), heartbeat, idle drop, public and private pushes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest

from server.simulator import RunningSimulator, SimulatorControl
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient, WsClient, now_ms, topic, url_auth_query, ws_auth_frame

OpenStream = Callable[..., Awaitable[WsClient]]
PUBLIC_ID = "OqdphuyCtYWxwzhxyLLjOWNdFP7sQt8RPWzmb5xY"


class _AnyTimestamp:
    """Equal to any positive integer: acks carry the server's clock."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and other > 0

    __hash__ = None  # type: ignore[assignment]


ANY_TS = _AnyTimestamp()


async def open_public(
    sim: RunningSimulator, session: aiohttp.ClientSession, auto_pong: bool = True
) -> WsClient:
    return WsClient(await session.ws_connect(f"{sim.public_ws_url}/{PUBLIC_ID}"), auto_pong=auto_pong)


async def test_subscribe_is_acked_and_markprice_is_pushed_on_every_move(
    sim: RunningSimulator, session: aiohttp.ClientSession, control: SimulatorControl
) -> None:
    stream = await open_public(sim, session)
    await stream.send({"id": "c1", "event": "subscribe", "topic": "PERP_ETH_USDC@markprice"})
    assert await stream.next() == {"id": "c1", "event": "subscribe", "success": True, "ts": ANY_TS}
    first = await stream.next(topic("PERP_ETH_USDC@markprice"))
    assert first["data"] == {"symbol": "PERP_ETH_USDC", "price": Decimal("2500")}
    await control.set_price("PERP_ETH_USDC", "2512.5")
    moved = await stream.next(topic("PERP_ETH_USDC@markprice"))
    assert moved["data"]["price"] == Decimal("2512.5")
    await stream.close()


async def test_bad_frames_and_topics_get_orderlys_error_replies(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = await open_public(sim, session)
    await stream.ws.send_str("not json")
    junk = await stream.next()
    assert (junk["success"], junk["errorMsg"], "event" in junk) == (False, "invalid message", False)
    await stream.send({"id": "c4", "event": "subscribe", "topic": "PERP_NOPE_USDC@trade"})
    bad = await stream.next()
    assert (bad["id"], bad["errorMsg"], "event" in bad) == ("c4", "invalid symbol PERP_NOPE_USDC", False)
    await stream.send({"id": "c5", "event": "subscribe", "topic": "PERP_BTC_USDC@indexprice"})
    assert (await stream.next())["errorMsg"] == "invalid index symbol"
    await stream.send({"id": 6, "event": "subscribe", "topic": "PERP_BTC_USDC@nope"})
    assert await stream.next() == {"id": "6", "event": "subscribe", "success": True, "ts": ANY_TS}
    await stream.close()


async def test_topic_cap_is_one_hundred_per_connection(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = await open_public(sim, session)
    for index in range(100):
        await stream.send({"event": "subscribe", "topic": f"PERP_BTC_USDC@kline_{index}"})
    for _ in range(100):
        assert (await stream.next())["success"] is True
    await stream.send({"event": "subscribe", "topic": "PERP_BTC_USDC@trade"})
    assert (await stream.next())["errorMsg"] == "your subscribed topics have reached limit "
    await stream.close()


async def test_client_ping_gets_a_pong(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    stream = await open_public(sim, session)
    await stream.send({"event": "ping"})
    pong = await stream.next()
    assert pong["event"] == "pong"
    assert abs(pong["ts"] - now_ms()) < 5_000
    await stream.close()


@pytest.mark.parametrize(
    "sim_config",
    [replace(QUIET, ws_ping_interval_ms=100, ws_idle_timeout_ms=1000)],
)
async def test_server_pings_and_drops_a_silent_client(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    silent = await open_public(sim, session, auto_pong=False)
    answering = await open_public(sim, session, auto_pong=True)
    ping = await silent.next()
    assert ping["event"] == "ping"
    assert isinstance(ping["ts"], int)
    async with asyncio.timeout(5):
        await silent.closed.wait()
    assert not answering.closed.is_set()  # it answered every ping and is still open
    await answering.send({"event": "ping"})
    assert (await answering.next(lambda f: f.get("event") == "pong"))["event"] == "pong"
    await answering.close()


async def test_private_subscribe_before_auth_is_refused(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = WsClient(await session.ws_connect(f"{sim.private_ws_url}/{sim.account.account_id}"))
    await stream.send({"id": "1", "event": "subscribe", "topic": "executionreport"})
    refused = await stream.next()
    assert (refused["id"], refused["event"], refused["success"], refused["errorMsg"]) == (
        "1",
        "subscribe",
        False,
        "Auth is needed.",
    )
    await stream.send(ws_auth_frame(sim.account, encoding="url"))
    auth = await stream.next()
    assert (auth["id"], auth["event"], auth["success"]) == ("auth-1", "auth", True)
    await stream.send({"id": "2", "event": "subscribe", "topic": "executionreport"})
    assert (await stream.next())["success"] is True
    await stream.close()


async def test_auth_with_a_stale_timestamp_fails_and_closes(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = WsClient(await session.ws_connect(f"{sim.private_ws_url}/{sim.account.account_id}"))
    await stream.send(ws_auth_frame(sim.account, timestamp_ms=now_ms() - 400_000))
    failed = await stream.next()
    assert (failed["event"], failed["success"], failed["errorMsg"]) == ("auth", False, "auth failed")
    async with asyncio.timeout(5):
        await stream.closed.wait()


async def test_url_query_auth_needs_no_auth_frame(
    sim: RunningSimulator, session: aiohttp.ClientSession, rest: RestClient
) -> None:
    url = f"{sim.private_ws_url}/{sim.account.account_id}{url_auth_query(sim.account)}"
    stream = WsClient(await session.ws_connect(url))
    await stream.send({"id": "e", "event": "subscribe", "topic": "executionreport"})
    assert (await stream.next())["success"] is True
    await rest.place(
        symbol="PERP_ETH_USDC", order_type="LIMIT", side="BUY", order_price="2400", order_quantity="0.1"
    )
    new = await stream.next(topic("executionreport"))
    assert (new["data"]["status"], new["data"]["symbol"]) == ("NEW", "PERP_ETH_USDC")
    await stream.close()


async def test_execution_reports_honour_the_symbol_filter_and_other_accounts_see_nothing(
    sim: RunningSimulator, session: aiohttp.ClientSession, rest: RestClient, control: SimulatorControl
) -> None:
    filtered = WsClient(await session.ws_connect(f"{sim.private_ws_url}/{sim.account.account_id}"))
    await filtered.send(ws_auth_frame(sim.account))
    await filtered.next()
    await filtered.send(
        {"id": "f", "event": "subscribe", "topic": "executionreport", "params": {"symbol": "PERP_SOL_USDC"}}
    )
    await filtered.next()
    other = await control.create_account("1000")
    stranger = WsClient(await session.ws_connect(f"{sim.private_ws_url}/{other.account_id}"))
    await stranger.send(ws_auth_frame(other))
    await stranger.next()
    await stranger.send({"id": "s", "event": "subscribe", "topic": "executionreport"})
    await stranger.next()
    await rest.place(
        symbol="PERP_ETH_USDC", order_type="LIMIT", side="BUY", order_price="2400", order_quantity="0.1"
    )
    await rest.place(
        symbol="PERP_SOL_USDC", order_type="LIMIT", side="BUY", order_price="140", order_quantity="1"
    )
    only = await filtered.next(topic("executionreport"))
    assert only["data"]["symbol"] == "PERP_SOL_USDC"
    assert filtered.drain() == []
    assert stranger.drain() == []
    await filtered.close()
    await stranger.close()


async def test_public_stream_needs_a_path_segment(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as error:
        await session.ws_connect(sim.public_ws_url)
    assert error.value.status == 404


async def test_unsubscribe_stops_pushes(
    sim: RunningSimulator, session: aiohttp.ClientSession, control: SimulatorControl
) -> None:
    stream = await open_public(sim, session)
    await stream.send({"id": "m", "event": "subscribe", "topic": "PERP_BTC_USDC@markprice"})
    await stream.next(topic("PERP_BTC_USDC@markprice"))
    await stream.send({"id": "u", "event": "unsubscribe", "topic": "PERP_BTC_USDC@markprice"})
    assert (await stream.next())["event"] == "unsubscribe"
    await control.set_price("PERP_BTC_USDC", "42000")
    await stream.send({"event": "ping"})
    assert (await stream.next())["event"] == "pong"  # nothing was pushed in between
    await stream.close()


@pytest.mark.parametrize("sim_config", [replace(QUIET, markprice_push_interval_ms=50)])
async def test_markprice_is_also_pushed_periodically(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = await open_public(sim, session)
    await stream.send({"id": "m", "event": "subscribe", "topic": "PERP_SOL_USDC@markprice"})
    pushes = [await stream.next(topic("PERP_SOL_USDC@markprice")) for _ in range(3)]
    assert {push["data"]["price"] for push in pushes} == {Decimal("150")}
    await stream.close()
