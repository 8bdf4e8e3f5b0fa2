"""`run_simulator`: the simulator as a real aiohttp server on a loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from server.simulator.accounts import AccountBook, SimAccount
from server.simulator.clock import Clock
from server.simulator.config import SimulatorConfig
from server.simulator.context import CONTEXT_KEY, SimContext
from server.simulator.control import add_control_routes
from server.simulator.faults import FaultInjector
from server.simulator.matching import Venue
from server.simulator.prices import PricePath
from server.simulator.rate_limits import RateLimiter
from server.simulator.rest_account import ACCOUNT_ROUTES
from server.simulator.rest_app import RestApp
from server.simulator.rest_orders import ORDER_ROUTES
from server.simulator.ws_hub import WsHub


@dataclass(frozen=True)
class RunningSimulator:
    rest_url: str
    public_ws_url: str
    private_ws_url: str
    account: SimAccount
    context: SimContext

    def startup_line(self) -> dict[str, str]:
        return {
            "rest_url": self.rest_url,
            "public_ws_url": self.public_ws_url,
            "private_ws_url": self.private_ws_url,
            **self.account.to_json(),
        }


def build_context(config: SimulatorConfig) -> SimContext:
    clock = Clock(config.virtual_clock, config.virtual_clock_start_ms)
    accounts = AccountBook(config.seed)
    faults = FaultInjector(config.faults, config.seed)
    return SimContext(
        config=config,
        clock=clock,
        accounts=accounts,
        venue=Venue(config, clock, accounts),
        hub=WsHub(config, clock, accounts, faults),
        faults=faults,
        rate_limiter=RateLimiter(config.rate_limits),
        price_path=PricePath(config, clock.now_ms()),
    )


def build_app(ctx: SimContext) -> web.Application:
    app = web.Application()
    app[CONTEXT_KEY] = ctx
    add_control_routes(app)
    app.router.add_get("/ws/stream/{id}", ctx.hub.public_stream)
    app.router.add_get("/v2/ws/private/stream/{account_id}", ctx.hub.private_stream)
    app.router.add_get("/ws/stream", _not_found)  # Orderly answers 404 to an upgrade without a segment
    app.router.add_route("*", "/{tail:.*}", RestApp(ORDER_ROUTES + ACCOUNT_ROUTES).handle)
    return app


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def _drive_events(ctx: SimContext) -> None:
    """Real-time driver of the walk, CSV replay and funding (a virtual clock moves via /sim/clock/advance)."""
    while True:
        due_ms = ctx.next_event_ms()
        if due_ms is None:
            return
        await asyncio.sleep(max(0, due_ms - ctx.clock.now_ms()) / 1000)
        await ctx.apply_due_events()


@contextlib.asynccontextmanager
async def run_simulator(config: SimulatorConfig | None = None) -> AsyncIterator[RunningSimulator]:
    config = config or SimulatorConfig()
    ctx = build_context(config)
    account = ctx.accounts.create(config.initial_collateral)
    for symbol, price in ctx.venue.marks.items():
        ctx.hub.current_marks[symbol] = price
    runner = web.AppRunner(build_app(ctx), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        port = _bound_port(site)
        base = f"{config.host}:{port}"
        if not config.virtual_clock and ctx.next_event_ms() is not None:
            tasks.append(asyncio.create_task(_drive_events(ctx)))
        if config.markprice_push_interval_ms > 0:
            tasks.append(asyncio.create_task(ctx.hub.markprice_loop(ctx.venue.marks)))
        yield RunningSimulator(
            rest_url=f"http://{base}",
            public_ws_url=f"ws://{base}/ws/stream",
            private_ws_url=f"ws://{base}/v2/ws/private/stream",
            account=account,
            context=ctx,
        )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.hub.drop_all()
        await runner.cleanup()


def _bound_port(site: web.TCPSite) -> int:
    server = site._server
    assert server is not None
    sockets: list[socket.socket] = list(getattr(server, "sockets", []))
    return int(sockets[0].getsockname()[1])
