"""WatchFills: per-user streams over several sessions, resume by seq, shutdown, slow subscribers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from orderly_grid.v1 import grid_pb2

from engine import Side
from server.api.status import error_from_rpc_error
from server.service.fill_broker import FillBroker, SubscriptionEnded
from server.service.views import FillView
from server.simulator import RunningSimulator, SimulatorControl
from server.store import FillRecord
from tests.integration.harness import SYMBOL, USER, running_app, start_request

ETH = "PERP_ETH_USDC"


async def test_user_watch_covers_every_session_and_resumes_by_seq(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        eth = start_request(
            ticker="PERP_ETH_USDC",
            current_price="2500",
            lower_bound="2300",
            upper_bound="2700",
            grid_levels=5,
        )
        await server.stub.StartGrid(eth)
        everything = server.watch()
        await everything.wait_for(lambda w: w.replay_complete, "the replay marker")

        await control.set_price(SYMBOL, "41950")
        await control.set_price(ETH, "2390")
        await everything.wait_for(lambda w: len(w.fills) == 2, "a fill of each session")
        fills = everything.fills
        assert [f.symbol for f in fills] == [SYMBOL, ETH]
        assert [f.session_id for f in fills] == [f"{USER}_BTCUSDT", f"{USER}_PERP_ETH_USDC"]
        assert fills[0].seq < fills[1].seq

        resumed = server.watch(after_seq=fills[0].seq)
        await resumed.wait_for(lambda w: w.replay_complete, "the resumed replay")
        assert [f.seq for f in resumed.fills] == [fills[1].seq]
        assert resumed.messages[-1].replay_complete.last_seq == fills[1].seq

        only_eth = server.watch(f"{USER}_PERP_ETH_USDC")
        await only_eth.wait_for(lambda w: w.replay_complete, "the ETH replay")
        assert [(f.side, Decimal(f.price)) for f in only_eth.fills] == [(grid_pb2.SIDE_BUY, Decimal("2400"))]

        # Shutdown ends every stream with UNAVAILABLE / SHUTTING_DOWN: clients resume elsewhere.
        await server.app.stop(grace_s=1.0)
        for watch in (everything, resumed, only_eth):
            await watch.wait_for(lambda w: w.error is not None, "the stream to end at shutdown")
            assert watch.error is not None
            assert watch.error.code() == grpc.StatusCode.UNAVAILABLE
            assert error_from_rpc_error(watch.error).reason == "SHUTTING_DOWN"


def _fill(seq: int) -> FillView:
    record = FillRecord(
        session_id="s",
        user_id="u",
        order_id=f"o{seq}",
        trade_id=f"t{seq}",
        client_order_id=f"c{seq}",
        side=Side.BUY,
        price=Decimal("1"),
        quantity=Decimal("1"),
        fee=Decimal("0"),
        timestamp_ms=seq,
        seq=seq,
    )
    return FillView(record, "u", SYMBOL, 0)


async def test_slow_subscriber_is_cut_off_without_blocking_publishers() -> None:
    broker = FillBroker(queue_size=2)
    slow = broker.subscribe("u", None)
    fast = broker.subscribe("u", "s")
    for seq in (1, 2):
        broker.publish(_fill(seq))
    assert (await fast.get()).seq == 1
    assert (await fast.get()).seq == 2
    broker.publish(_fill(3))  # the slow one is full: it is cut off, publish returns at once
    assert slow.overflowed
    assert (await fast.get()).seq == 3
    with pytest.raises(SubscriptionEnded) as ended:
        await slow.get()
    assert ended.value.overflowed
    assert broker.subscriber_count == 1
