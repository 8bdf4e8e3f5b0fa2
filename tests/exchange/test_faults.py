"""Fault tests over real sockets: lost pushes, dropped and stalled WebSockets, 429/5xx on reads, and
placements whose answer is lost. Faults come from the simulator's FaultConfig/control endpoints and,
for lost answers to requests the venue did process, from a lossy HTTP proxy in front of it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest

from engine.commands import OrderType, PlaceOrder
from engine.events import OrderFilled, OrderPartiallyFilled
from engine.types import Side
from server.exchange import (
    AuthError,
    OrderlyCredentials,
    OrderlyExchange,
    OrderlySigner,
    OutcomeUnknown,
    PlacementAck,
)
from server.exchange.ratelimit import RateLimiter
from server.exchange.rest import OrderlyRestClient
from server.simulator import FaultConfig, SimulatorConfig, run_simulator
from tests.exchange.lossy_proxy import Action, LossyProxy, run_lossy_proxy
from tests.exchange.test_auth_vectors import SECRET as VECTOR_SECRET
from tests.exchange.venues import Venue, simulator_exchange_config, simulator_venue, simulator_venue_via


@contextlib.asynccontextmanager
async def _behind_lossy_proxy(**overrides: object) -> AsyncIterator[tuple[Venue, LossyProxy]]:
    """An adapter whose REST traffic crosses the lossy proxy; its WebSockets go straight to the simulator."""
    async with (
        simulator_venue() as plain,
        run_lossy_proxy(plain.exchange.config.rest_url) as (proxy, url),
        simulator_venue_via(plain, url, **overrides) as venue,
    ):
        yield venue, proxy


def _buy(cid: str, price: Decimal, quantity: Decimal) -> PlaceOrder:
    return PlaceOrder(cid, Side.BUY, OrderType.LIMIT, quantity, price)


def _fill_keys(venue: Venue) -> list[tuple[str, str]]:
    return [
        (f.order_id, f.trade_id)
        for f in venue.events.of_type((OrderFilled, OrderPartiallyFilled))
        if isinstance(f, OrderFilled | OrderPartiallyFilled)
    ]


def _venue_fill_keys(venue: Venue) -> set[tuple[str, str]]:
    assert venue.sim is not None
    account_id = venue.sim.account.account_id
    return {
        (str(f.order_id), str(f.trade_id))
        for f in venue.sim.context.venue.fills
        if f.account_id == account_id
    }


def _orders_with_cid(venue: Venue, cid: str) -> int:
    assert venue.sim is not None
    orders = venue.sim.context.venue.account_orders(venue.sim.account.account_id)
    return sum(1 for order in orders if order.client_order_id == cid)


async def test_every_fill_reaches_the_stream_exactly_once_despite_lost_pushes_and_ws_drops() -> None:
    faults = FaultConfig(lost_push_rate=0.4, ws_drop_every_n_messages=9)
    sim_config = SimulatorConfig(port=0, seed=11, liquidity_per_order=Decimal("0.0005"), faults=faults)
    async with simulator_venue(sim_config, reconcile_interval_ms=200) as venue:
        assert venue.control is not None
        await venue.exchange.subscribe(venue.symbol)
        prices = [Decimal(42000 - 100 * i) for i in range(6)]
        orders = [_buy(venue.cid(f"l{i}"), price, Decimal("0.001")) for i, price in enumerate(prices)]
        results = await venue.exchange.place_orders(venue.symbol, orders)
        assert all(isinstance(r, PlacementAck) for r in results), results
        for step, price in enumerate(prices):
            await venue.control.set_price(venue.symbol, price - 1)  # half of each crossed order fills
            await venue.control.set_price(venue.symbol, price - 2)  # the other half
            if step == 2:
                await venue.control.drop_websockets()
        truth = _venue_fill_keys(venue)
        assert len(truth) == 12  # six orders, two trades each
        await venue.events.wait_until(lambda: set(_fill_keys(venue)) == truth, 15, "every venue fill")
        keys = _fill_keys(venue)
        assert len(keys) == len(set(keys)), "a fill reached the stream twice"
        assert venue.exchange.recovered_fills > 0, "no lost push was recovered over REST"
        stream = venue.exchange.private_stream
        assert stream is not None
        assert stream.connect_count >= 2
        for ack in results:
            assert isinstance(ack, PlacementAck)
            fills = [
                f
                for f in venue.events.of_type((OrderFilled, OrderPartiallyFilled))
                if isinstance(f, OrderFilled | OrderPartiallyFilled) and f.order_id == ack.order_id
            ]
            fills.sort(key=lambda f: f.cumulative_quantity)
            assert [f.cumulative_quantity for f in fills] == [Decimal("0.0005"), Decimal("0.0010")]
            assert [type(f) for f in fills] == [OrderPartiallyFilled, OrderFilled]
            assert {f.client_order_id for f in fills} == {ack.client_order_id}


async def test_reads_are_retried_through_injected_429s_and_5xxs() -> None:
    async with simulator_venue(max_read_attempts=10) as venue:
        assert venue.control is not None
        await venue.control.set_faults(FaultConfig(http_429_rate=0.25, http_5xx_rate=0.25))
        for _ in range(8):
            assert await venue.exchange.open_orders(venue.symbol) == []
            assert await venue.exchange.position_quantity(venue.symbol) == 0
            assert await venue.exchange.rest.mark_price(venue.symbol) > 0
            assert await venue.exchange.recent_fills(venue.symbol, 0) == []
        await venue.control.set_faults(FaultConfig())
        assert venue.exchange.rest.retries > 0


async def test_cancel_retried_after_5xx_treats_a_later_not_found_as_done() -> None:
    async with simulator_venue(max_read_attempts=10) as venue:
        assert venue.control is not None
        cid = venue.cid("c")
        await venue.exchange.place_order(venue.symbol, _buy(cid, Decimal(42000), Decimal("0.001")))
        await venue.control.set_faults(FaultConfig(http_5xx_rate=0.5))
        await venue.exchange.cancel_order(venue.symbol, cid)
        await venue.control.set_faults(FaultConfig())
        assert await venue.exchange.open_orders(venue.symbol) == []


@pytest.mark.parametrize(
    ("action", "sent"),
    [
        (Action.FORWARD_THEN_RESET, 1),  # placed, answer lost: found by client_order_id
        (Action.FORWARD_THEN_502, 1),  # placed, gateway error: found by client_order_id
        (Action.FAIL_502_WITHOUT_FORWARD, 2),  # not placed: look-up finds nothing, re-sent once
        (Action.FAIL_429_WITHOUT_FORWARD, 2),  # 429 proves nothing was placed: re-sent
    ],
)
async def test_placement_with_a_lost_answer_is_resolved_and_never_doubled(action: Action, sent: int) -> None:
    async with _behind_lossy_proxy() as (venue, proxy):
        assert venue.sim is not None
        proxy.placement_actions.append(action)
        cid = venue.cid("p")
        ack = await venue.exchange.place_order(venue.symbol, _buy(cid, Decimal(42000), Decimal("0.001")))
        assert _orders_with_cid(venue, cid) == 1
        order = venue.sim.context.venue.find_by_client_order_id(venue.sim.account.account_id, cid)
        assert ack.order_id == str(order.order_id)
        assert proxy.placements_seen == sent


async def test_batch_with_a_lost_answer_resolves_every_order_by_lookup() -> None:
    async with _behind_lossy_proxy() as (venue, proxy):
        proxy.placement_actions.append(Action.FORWARD_THEN_RESET)
        orders = [_buy(venue.cid(f"q{i}"), Decimal(42000 - 10 * i), Decimal("0.001")) for i in range(5)]
        results = await venue.exchange.place_orders(venue.symbol, orders)
        assert all(isinstance(r, PlacementAck) for r in results), results
        assert [_orders_with_cid(venue, o.client_order_id) for o in orders] == [1] * 5
        assert venue.exchange.placer.resolved_by_lookup == 5
        assert proxy.placements_seen == 1


async def test_placement_timeout_with_nothing_found_is_outcome_unknown_not_a_rejection() -> None:
    async with _behind_lossy_proxy(request_timeout_ms=300) as (venue, proxy):
        proxy.placement_actions.append(Action.HANG_WITHOUT_FORWARD)
        cid = venue.cid("u")
        with pytest.raises(OutcomeUnknown) as raised:
            await venue.exchange.place_order(venue.symbol, _buy(cid, Decimal(42000), Decimal("0.001")))
        assert raised.value.client_order_id == cid
        assert _orders_with_cid(venue, cid) == 0
        assert proxy.placements_seen == 1  # never blindly re-sent


async def test_stalled_stream_is_detected_by_silence_and_reconnected() -> None:
    async with simulator_venue(ws_ping_interval_ms=100, ws_silence_timeout_ms=400) as venue:
        assert venue.control is not None
        stream = venue.exchange.private_stream
        assert stream is not None
        assert stream.connect_count == 1
        await venue.control.set_faults(FaultConfig(ws_stalled=True))
        await _wait(lambda: not stream.connected.is_set(), 5, "silence detection")
        await venue.control.set_faults(FaultConfig())
        await _wait(lambda: stream.connect_count >= 2 and stream.connected.is_set(), 5, "reconnect")


async def test_server_pings_are_answered_so_the_connection_survives_the_idle_timeout() -> None:
    sim_config = SimulatorConfig(port=0, seed=3, ws_ping_interval_ms=50, ws_idle_timeout_ms=300)
    async with simulator_venue(sim_config) as venue:
        stream = venue.exchange.private_stream
        assert stream is not None
        # Asserting an absence needs elapsed time: three idle timeouts pass without a reconnect.
        await asyncio.sleep(0.9)
        assert stream.connect_count == 1
        assert stream.connected.is_set()


async def _wait(condition: object, timeout_s: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_an_unregistered_key_fails_fast_with_an_auth_error_on_rest_and_websocket() -> None:
    async with run_simulator(SimulatorConfig(port=0, seed=5)) as sim:
        stranger = OrderlyCredentials(sim.account.account_id, "", VECTOR_SECRET)  # valid key, not registered
        config = replace(simulator_exchange_config(sim), credentials=stranger)
        started = time.monotonic()
        with pytest.raises(AuthError, match="auth"):
            await OrderlyExchange(config).start()
        assert time.monotonic() - started < 3  # not the 9 s connect timeout
        async with aiohttp.ClientSession() as session:
            signer = OrderlySigner(stranger)
            rest = OrderlyRestClient(config, session, RateLimiter(), signer)
            with pytest.raises(AuthError) as refused:
                await rest.positions()
            assert (refused.value.code, refused.value.http_status) == (-1002, 401)
