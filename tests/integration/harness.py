"""The whole service on loopback sockets, as clients see it: the simulator, the app (store, adapter,
grid service, gRPC server, REST shim) and a gRPC client with the generated stubs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
from orderly_grid.v1 import auth_pb2, grid_pb2, grid_service_pb2, grid_service_pb2_grpc

from server.api.errors import DomainError
from server.api.status import error_from_rpc_error
from server.app import Application, simulator_exchange_config
from server.exchange import OrderlyExchange
from server.service.runner import RunnerSettings
from server.settings import Settings
from server.simulator import RunningSimulator
from server.simulator.orders import Order
from server.store import open_store

USER = "0x" + "ab" * 20
OTHER_USER = "0x" + "cd" * 20
SYMBOL = "PERP_BTC_USDC"


def auth(user_id: str = USER) -> auth_pb2.UserAuth:
    return auth_pb2.UserAuth(
        user_id=user_id, signature="0x" + "11" * 65, timestamp=int(time.time() * 1000), nonce="n1"
    )


def start_request(**overrides: Any) -> grid_service_pb2.StartGridRequest:
    """Lines 40000..45000 step 1000 around the simulator's 42500, BOTH: buys at 40000, 41000, 42000,
    sells at 44000, 45000."""
    fields: dict[str, Any] = {
        "ticker": "BTCUSDT",
        "direction": grid_pb2.DIRECTION_BOTH,
        "current_price": "42500",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "1000",
        "user_auth": auth(),
    }
    fields.update(overrides)
    return grid_service_pb2.StartGridRequest(**fields)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Poll a condition until it holds, failing after a deadline."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(interval_s)


async def rpc_error(call: Awaitable[Any]) -> tuple[grpc.StatusCode, DomainError]:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code(), error_from_rpc_error(exc)
    raise AssertionError("the call succeeded")


def venue_orders(sim: RunningSimulator, prefix: str | None = None) -> list[Order]:
    orders = sim.context.venue.open_orders(sim.account.account_id, SYMBOL)
    return [o for o in orders if prefix is None or (o.client_order_id or "").startswith(prefix + "-")]


def prefix_of(grid: grid_pb2.Grid) -> str:
    return grid.open_orders[0].client_order_id.split("-")[0]


@dataclass
class FillWatch:
    """A WatchFills stream drained in the background; tests wait on what arrived."""

    stream: Any
    messages: list[grid_service_pb2.WatchFillsResponse] = field(default_factory=list)
    error: grpc.aio.AioRpcError | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def fills(self) -> list[grid_pb2.Fill]:
        return [m.fill for m in self.messages if m.HasField("fill")]

    @property
    def replay_complete(self) -> bool:
        return any(m.HasField("replay_complete") for m in self.messages)

    async def _drain(self) -> None:
        try:
            async for message in self.stream:
                self.messages.append(message)
                self.changed.set()
        except grpc.aio.AioRpcError as exc:
            self.error = exc
            self.changed.set()

    async def wait_for(
        self, condition: Callable[[FillWatch], bool], what: str, timeout_s: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.task is not None and self.task.done() and not condition(self)):
                raise AssertionError(f"waiting for {what}: got {self.messages} error={self.error}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def cancel(self) -> None:
        self.stream.cancel()


@dataclass
class Running:
    app: Application
    channel: grpc.aio.Channel
    stub: grid_service_pb2_grpc.GridServiceStub

    def watch(self, session_id: str = "", after_seq: int = 0, user_id: str = USER) -> FillWatch:
        stream = self.stub.WatchFills(
            grid_service_pb2.WatchFillsRequest(
                session_id=session_id, after_seq=after_seq, user_auth=auth(user_id)
            )
        )
        watch = FillWatch(stream)
        watch.task = asyncio.create_task(watch._drain())
        return watch

    async def get(self, session_id: str) -> grid_pb2.Grid:
        response = await self.stub.GetGrid(
            grid_service_pb2.GetGridRequest(session_id=session_id, user_auth=auth())
        )
        return response.grid


@dataclass(frozen=True)
class StoreLocation:
    data_dir: Path
    mongodb_uri: str | None = None
    mongodb_database: str | None = None


@contextlib.asynccontextmanager
async def running_app(
    sim: RunningSimulator,
    location: StoreLocation | Path,
    *,
    with_rest: bool = False,
    subscriber_queue_size: int = 1024,
) -> AsyncIterator[Running]:
    """The service on `sim`, its store opened afresh from `location` (as a restarted process would)."""
    if isinstance(location, Path):
        location = StoreLocation(location)
    store = await open_store(
        location.mongodb_uri, location.data_dir, mongodb_database=location.mongodb_database
    )
    settings = replace(Settings(), grpc_port=0, rest_port=0, data_dir=location.data_dir, shutdown_grace_s=1.0)
    exchange_config = simulator_exchange_config(sim)
    exchange_config = replace(exchange_config, ws_reconnect_base_ms=50, ws_reconnect_max_ms=500, seed=7)
    app = Application(
        settings,
        simulator=sim,
        store=store,
        exchange_config=exchange_config,
        runner_settings=RunnerSettings(stop_timeout_ms=3_000),
        with_rest=with_rest,
        subscriber_queue_size=subscriber_queue_size,
    )
    try:
        await app.start()
        channel = grpc.aio.insecure_channel(app.grpc_target)
        try:
            yield Running(app, channel, grid_service_pb2_grpc.GridServiceStub(channel))
        finally:
            await app.stop(grace_s=1.0)
            await channel.close()
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def running_venue_client(sim: RunningSimulator) -> AsyncIterator[OrderlyExchange]:
    """Another connection to the service's venue account (what a user's own UI would be)."""
    exchange = OrderlyExchange(simulator_exchange_config(sim))
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.close()
