"""Everything one simulator run shares between its REST routes, WebSockets and control routes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from server.simulator.accounts import AccountBook
from server.simulator.clock import Clock
from server.simulator.config import SimulatorConfig
from server.simulator.faults import FaultInjector
from server.simulator.matching import Venue
from server.simulator.prices import PricePath
from server.simulator.rate_limits import RateLimiter
from server.simulator.ws_hub import WsHub


@dataclass
class SimContext:
    config: SimulatorConfig
    clock: Clock
    accounts: AccountBook
    venue: Venue
    hub: WsHub
    faults: FaultInjector
    rate_limiter: RateLimiter
    price_path: PricePath
    next_funding_ms: int = 0
    # Requests received per route ("GET /v1/orders"), for tests and benchmarks of how a client reads.
    requests: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        interval = self.config.funding_interval_ms
        self.next_funding_ms = (self.clock.now_ms() // interval + 1) * interval

    def next_event_ms(self) -> int | None:
        """When the price path or funding next has something to do (for the real-time driver)."""
        candidates = [self.price_path.next_due_ms()]
        if self.config.funding_rate != 0:
            candidates.append(self.next_funding_ms)
        due = [ms for ms in candidates if ms is not None]
        return min(due) if due else None

    async def apply_due_events(self) -> int:
        """Applies every price update and funding payment due now; returns the number of fills."""
        now = self.clock.now_ms()
        fills = 0
        for symbol, price in self.price_path.due(now, self.venue.marks):
            count, pushes = self.venue.set_price(symbol, price)
            await self.hub.publish(pushes)
            fills += count
        while self.next_funding_ms <= now:
            if self.config.funding_rate != 0:
                await self.hub.publish(self.venue.settle_funding(self.config.funding_rate))
            self.next_funding_ms += self.config.funding_interval_ms
        return fills


CONTEXT_KEY = web.AppKey("orderly_sim_context", SimContext)
