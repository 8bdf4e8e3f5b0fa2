"""watch_fills against the real service: live fills, and resume across a server restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from orderly_grid.client import GridClient
from orderly_grid.fills import FillStream
from orderly_grid.params import GridParams
from orderly_grid.v1 import grid_pb2

from server.simulator import SimulatorControl
from tests.clients.service import LoopbackService, wait_for_resting_order
from tests.integration.harness import SYMBOL, wait_until

BTC = GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")


class Collected:
    """Drains a FillStream in a task; tests wait on what arrived (polling with a deadline)."""

    def __init__(self, stream: FillStream) -> None:
        self.stream = stream
        self.fills: list[grid_pb2.Fill] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            async for fill in self.stream:
                self.fills.append(fill)
        except Exception as exc:
            self.error = exc

    async def until(self, count: int, what: str) -> None:
        async def arrived() -> bool:
            if self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            return len(self.fills) >= count

        await wait_until(arrived, what)

    async def until_live(self, what: str) -> None:
        async def live() -> bool:
            return self.stream.live.is_set()

        await wait_until(live, what)


@contextlib.asynccontextmanager
async def collecting(stream: FillStream) -> AsyncIterator[Collected]:
    collected = Collected(stream)
    try:
        yield collected
    finally:
        collected.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collected.task
        await stream.aclose()


async def test_watch_yields_live_fills_of_a_session(
    service: LoopbackService, client: GridClient, control: SimulatorControl
) -> None:
    grid = await client.start_grid(BTC)
    async with collecting(client.watch_fills(grid.session_id)) as watch:
        await watch.until_live("the replay marker")
        await control.set_price(SYMBOL, "41950")
        await watch.until(1, "the buy fill at 42000")
        await wait_for_resting_order(service.sim, "SELL", "43000")
        await control.set_price(SYMBOL, "43050")
        await watch.until(2, "the counter sell at 43000")
    buy, sell = watch.fills
    assert (buy.side, Decimal(buy.price), buy.session_id) == (
        grid_pb2.SIDE_BUY,
        Decimal(42000),
        grid.session_id,
    )
    assert (sell.side, Decimal(sell.price)) == (grid_pb2.SIDE_SELL, Decimal(43000))
    assert sell.HasField("round_trip")
    assert Decimal(sell.round_trip.profit) > 0
    assert buy.seq < sell.seq
    assert watch.stream.last_seq == sell.seq
    assert watch.stream.reconnects == 0


async def test_watch_resumes_after_server_restart_and_yields_each_fill_once(
    service: LoopbackService, client: GridClient, control: SimulatorControl
) -> None:
    grid = await client.start_grid(BTC)
    reconnect_errors: list[str] = []
    stream = client.watch_fills(
        on_reconnect=lambda error, n: reconnect_errors.append(str(error and error.reason))
    )
    async with collecting(stream) as watch:
        await watch.until_live("the first subscription to replay")
        await control.set_price(SYMBOL, "41950")
        await watch.until(1, "the buy fill at 42000 before the restart")

        await service.stop()  # ends the stream (UNAVAILABLE): the SDK starts resubscribing
        # While the server is down the buy at 41000 fills on the venue; nobody records it yet.
        assert await control.set_price(SYMBOL, "40950") == 1
        await service.start()  # same port, same store: the session resumes and catches up

        await watch.until(2, "the fill made while the server was down, after the catch-up")
        await watch.until_live("the resumed subscription")
        await wait_for_resting_order(service.sim, "SELL", "42000")  # the catch-up's counter order
        await control.set_price(SYMBOL, "42050")
        await watch.until(3, "a live fill after the restart")

    seqs = [f.seq for f in watch.fills]
    assert seqs == [1, 2, 3]
    assert [(f.side, Decimal(f.price)) for f in watch.fills] == [
        (grid_pb2.SIDE_BUY, Decimal(42000)),
        (grid_pb2.SIDE_BUY, Decimal(41000)),
        (grid_pb2.SIDE_SELL, Decimal(42000)),
    ]
    assert all(f.session_id == grid.session_id for f in watch.fills)
    assert stream.reconnects >= 1
    assert reconnect_errors[0] in ("SHUTTING_DOWN", "UNAVAILABLE")
