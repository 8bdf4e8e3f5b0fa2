"""`run_simulator`: the simulator as a real aiohttp server on a loopback socket, its state kept in
`config.state_file` between runs when one is given (server.simulator.state_file)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from server.simulator import state_file
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
    # Which venue this is: the same across restarts on one state file, new for a fresh venue.
    instance_id: str = ""
    restored: bool = False  # True when the state came from config.state_file

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
    path = Path(config.state_file) if config.state_file else None
    saved = state_file.read(path) if path is not None else None
    if saved is not None:
        instance_id, account = state_file.restore(ctx, saved)
    else:
        instance_id, account = state_file.new_instance_id(), ctx.accounts.create(config.initial_collateral)
    for symbol, price in ctx.venue.marks.items():
        ctx.hub.current_marks[symbol] = price
    runner = web.AppRunner(build_app(ctx), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    tasks: list[asyncio.Task[None]] = []
    saver: StateSaver | None = None
    try:
        port = _bound_port(site)
        base = f"{config.host}:{port}"
        if not config.virtual_clock and ctx.next_event_ms() is not None:
            tasks.append(asyncio.create_task(_drive_events(ctx)))
        if config.markprice_push_interval_ms > 0:
            tasks.append(asyncio.create_task(ctx.hub.markprice_loop(ctx.venue.marks)))
        saver = StateSaver(ctx, path, instance_id, account.account_id) if path is not None else None
        if saver is not None:
            saver.save_now()  # a fresh venue exists from its first second, not from its first change
            tasks.append(asyncio.create_task(saver.run(config.state_save_interval_ms / 1000)))
        yield RunningSimulator(
            rest_url=f"http://{base}",
            public_ws_url=f"ws://{base}/ws/stream",
            private_ws_url=f"ws://{base}/v2/ws/private/stream",
            account=account,
            context=ctx,
            instance_id=instance_id,
            restored=saved is not None,
        )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if saver is not None:
            await saver.close()  # the last word on a clean exit
        await ctx.hub.drop_all()
        await runner.cleanup()


class StateSaver:
    """Writes the venue's state to its file whenever it changed, at most once per interval."""

    def __init__(self, ctx: SimContext, path: Path, instance_id: str, default_account_id: str) -> None:
        self._ctx = ctx
        self._path = path
        self._instance_id = instance_id
        self._default_account_id = default_account_id
        self._written = ""
        self._writing: asyncio.Future[None] | None = None

    def _text(self) -> str:
        # Taken synchronously on the loop: a consistent snapshot between two venue operations.
        snapshot = state_file.snapshot(self._ctx, self._instance_id, self._default_account_id)
        return state_file.dumps(snapshot)

    def save_now(self) -> None:
        text = self._text()
        if text != self._written:
            state_file.write(self._path, text)
            self._written = text

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            text = self._text()
            if text != self._written:
                # The file write and fsync happen off the loop, so trading never waits for the disk;
                # shielded, so a cancel never leaves a write running behind close()'s.
                self._writing = asyncio.ensure_future(asyncio.to_thread(state_file.write, self._path, text))
                await asyncio.shield(self._writing)
                self._written = text

    async def close(self) -> None:
        """After `run` is cancelled: let a write under way finish, then save the final state."""
        if self._writing is not None:
            with contextlib.suppress(OSError):
                await self._writing
        self._written = ""  # the write under way may have been older than what is known now
        self.save_now()


def _bound_port(site: web.TCPSite) -> int:
    server = site._server
    assert server is not None
    sockets: list[socket.socket] = list(getattr(server, "sockets", []))
    return int(sockets[0].getsockname()[1])
