"""Test venues for the Exchange conformance suite: the simulator (always) and Orderly testnet (when
ORDERLY_* credentials are set), plus a collector that waits on the adapter's event stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from engine.events import Event
from server.exchange import OrderlyConfig, OrderlyCredentials, OrderlyExchange, VenueEvent
from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator

TESTNET_ENV = ("ORDERLY_ACCOUNT_ID", "ORDERLY_KEY", "ORDERLY_SECRET")


class EventCollector:
    """Drains `events()` in a background task so tests can wait on a condition with a deadline."""

    def __init__(self, exchange: OrderlyExchange) -> None:
        self.events: list[VenueEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(exchange))

    async def _run(self, exchange: OrderlyExchange) -> None:
        async for event in exchange.events():
            self.events.append(event)
            self._changed.set()

    def of_type(self, kind: type[Event] | tuple[type[Event], ...]) -> list[Event]:
        return [e.event for e in self.events if isinstance(e.event, kind)]

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what or 'a condition'}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def wait_for(
        self, predicate: Callable[[Event], bool], timeout_s: float = 5.0, what: str = ""
    ) -> Event:
        found: list[Event] = []

        def check() -> bool:
            found[:] = [e.event for e in self.events if predicate(e.event)]
            return bool(found)

        await self.wait_until(check, timeout_s, what)
        return found[0]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass
class Venue:
    name: str
    exchange: OrderlyExchange
    events: EventCollector
    symbol: str
    control: SimulatorControl | None = None  # None on a real venue: no price control
    sim: RunningSimulator | None = None

    def cid(self, tag: str = "") -> str:
        """A fresh client_order_id (<= 36 chars) so runs on a shared testnet account never collide."""
        return f"t{tag}{uuid.uuid4().hex[:20]}"

    async def resting_buy_price(self) -> Decimal:
        """A price 5% under the mark, on tick: rests, and is inside price_range and price_scope."""
        rules = await self.exchange.get_market_rules(self.symbol)
        mark = await self.exchange.get_mark_price(self.symbol)
        return (mark * Decimal("0.95") / rules.quote_tick).to_integral_value(ROUND_DOWN) * rules.quote_tick

    async def small_quantity(self, price: Decimal) -> Decimal:
        """The smallest on-step quantity that clears base_min and min_notional (with 20% room)."""
        rules = await self.exchange.get_market_rules(self.symbol)
        needed = max(rules.base_min, rules.min_notional * Decimal("1.2") / price)
        steps = (needed / rules.base_tick).to_integral_value(ROUND_DOWN) + 1
        return steps * rules.base_tick


def simulator_exchange_config(sim: RunningSimulator, **overrides: object) -> OrderlyConfig:
    account = sim.account
    base = OrderlyConfig(
        rest_url=sim.rest_url,
        public_ws_url=sim.public_ws_url,
        private_ws_url=sim.private_ws_url,
        credentials=OrderlyCredentials(account.account_id, account.orderly_key, account.orderly_secret),
        request_timeout_ms=3_000,
        retry_base_ms=20,
        retry_max_ms=200,
        ws_reconnect_base_ms=50,
        ws_reconnect_max_ms=500,
        reconcile_interval_ms=0,
        seed=7,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def simulator_venue(
    sim_config: SimulatorConfig | None = None, **exchange_overrides: object
) -> AsyncIterator[Venue]:
    async with run_simulator(sim_config or SimulatorConfig(port=0, seed=7)) as sim:
        exchange = OrderlyExchange(simulator_exchange_config(sim, **exchange_overrides))
        control = SimulatorControl(sim.rest_url)
        await exchange.start()
        collector = EventCollector(exchange)
        try:
            yield Venue("simulator", exchange, collector, "PERP_BTC_USDC", control, sim)
        finally:
            await collector.close()
            await exchange.close()
            await control.close()


@contextlib.asynccontextmanager
async def simulator_venue_via(
    plain: Venue, rest_url: str, **exchange_overrides: object
) -> AsyncIterator[Venue]:
    """A second adapter on the same simulator whose REST traffic goes through `rest_url` (a proxy)."""
    assert plain.sim is not None
    config = simulator_exchange_config(plain.sim, rest_url=rest_url, **exchange_overrides)
    exchange = OrderlyExchange(config)
    await exchange.start()
    collector = EventCollector(exchange)
    try:
        yield Venue("simulator-via-proxy", exchange, collector, plain.symbol, plain.control, plain.sim)
    finally:
        await collector.close()
        await exchange.close()


def testnet_skip_reason() -> str | None:
    missing = [name for name in TESTNET_ENV if not os.environ.get(name)]
    if missing:
        return f"Orderly testnet conformance needs {', '.join(missing)} (a funded testnet account); not set"
    return None


@contextlib.asynccontextmanager
async def testnet_venue() -> AsyncIterator[Venue]:
    exchange = OrderlyExchange(OrderlyConfig.from_env())
    await exchange.start()
    collector = EventCollector(exchange)
    symbol = os.environ.get("ORDERLY_TEST_SYMBOL", "PERP_BTC_USDC")
    try:
        yield Venue("testnet", exchange, collector, symbol)
    finally:
        with contextlib.suppress(Exception):
            await exchange.cancel_all(symbol)
        await collector.close()
        await exchange.close()
