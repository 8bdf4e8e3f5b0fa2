"""Issue 10's findings, through the real service on loopback: no client_order_id is ever sent twice,
a stop with close closes exactly the session's inventory (clamped to what the venue holds) with one
closing order, and a crash in the middle of a stop with close still ends flat.

The simulator keeps every order it ever accepted (`Venue.account_orders`): that history, not the
service's view, is the evidence."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from engine import OrderType, PlaceOrder, Side
from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from server.simulator.config import FaultConfig
from server.simulator.history import Submission
from server.simulator.orders import Order
from server.store import SessionStatus, Store, StoreUnavailable
from tests.integration.harness import (
    A_SESSION,
    SYMBOL,
    Running,
    auth,
    prefix_of,
    running_app,
    running_venue_client,
    start_request,
    venue_orders,
    wait_for_order,
    wait_until,
)
from tests.log_capture import captured_logs


def every_order(sim: RunningSimulator, prefix: str) -> list[Order]:
    """Every order of the session the venue ever accepted, open or not."""
    orders = sim.context.venue.account_orders(sim.account.account_id)
    return [o for o in orders if (o.client_order_id or "").startswith(prefix + "-")]


def closing_orders(sim: RunningSimulator, prefix: str) -> list[Order]:
    return [o for o in every_order(sim, prefix) if (o.client_order_id or "").startswith(prefix + "-x")]


def closing_submissions(sim: RunningSimulator, prefix: str) -> list[Submission]:
    """Every closing order the service SENT, whether the venue accepted it or not."""
    sent = sim.context.venue.submissions.get(sim.account.account_id, [])
    return [s for s in sent if s.client_order_id.startswith(prefix + "-x")]


def venue_position(sim: RunningSimulator) -> Decimal:
    account = sim.context.accounts.get(sim.account.account_id)
    assert account is not None
    position = account.positions.get(SYMBOL)
    return Decimal(0) if position is None else position.quantity


def stop_request(close: bool) -> grid_service_pb2.StopGridRequest:
    return grid_service_pb2.StopGridRequest(session_id=A_SESSION, close_position=close, user_auth=auth())


async def market(sim: RunningSimulator, client_order_id: str, side: Side, quantity: str) -> None:
    """The account owner's own trade outside the grid."""
    async with running_venue_client(sim) as venue_client:
        order = PlaceOrder(client_order_id, side, OrderType.MARKET, Decimal(quantity), None)
        await venue_client.place_order(SYMBOL, order)


async def test_order_cancelled_unseen_while_down_is_replaced_under_a_new_id_when_positions_agree(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """The venue's position equals the session's, so the old reconciliation took the order as lost
    and sent its client_order_id again; the venue's history says it was cancelled."""
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
    lost = next(o for o in venue_orders(sim, prefix) if o.price == Decimal("44000"))
    assert lost.client_order_id is not None
    async with running_venue_client(sim) as venue_client:
        await venue_client.cancel_order(SYMBOL, lost.client_order_id)

    async with running_app(sim, tmp_path):

        async def replaced() -> bool:
            return any(o.price == Decimal("44000") for o in venue_orders(sim, prefix))

        await wait_until(replaced, "the cancelled order's cell trading again")
        ids = Counter(o.client_order_id for o in every_order(sim, prefix))
        assert all(count == 1 for count in ids.values()), ids
        assert len(venue_orders(sim, prefix)) == 5


async def test_stop_with_close_sends_one_closing_order_and_ends_flat(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """The residual check ran before the close's own fill was applied, so a second, full-size
    reduce-only close went out on every successful close."""
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills
        await wait_for_order(sim, "SELL", "43000", "the counter sell", prefix=prefix)
        stopped = (await server.stub.StopGrid(stop_request(close=True))).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert Decimal(stopped.position.quantity) == 0
        assert venue_position(sim) == 0
        assert len(closing_submissions(sim, prefix)) == 1
        assert venue_orders(sim, prefix) == []


async def test_stop_with_close_closes_only_what_the_venue_can_reduce(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """An earlier run left the account short on the symbol; the grid then bought more than that
    short, so the venue holds less than the session's inventory. The close is clamped to what the
    venue holds: no reduce-only order is rejected, and the account ends flat."""
    await market(sim, "leftover1", Side.SELL, "0.002")
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills (0.00476)
        await wait_for_order(sim, "SELL", "43000", "the counter sell", prefix=prefix)
        assert venue_position(sim) > 0
        stopped = (await server.stub.StopGrid(stop_request(close=True))).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert venue_position(sim) == 0
        assert [o.status for o in closing_orders(sim, prefix)] == ["FILLED"]
        assert [s.error_code for s in closing_submissions(sim, prefix)] == [None]
        assert venue_orders(sim, prefix) == []


async def test_a_crash_during_a_stop_with_close_resumes_and_ends_flat(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Killed after the stop was saved (STOPPING) and before the venue heard the close: the resumed
    session looks its closing order up, finds it never placed, and closes under a new id."""
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(sim, "SELL", "43000", "the counter sell", prefix=prefix)
        await control.set_faults(FaultConfig(latency_ms=1_500))  # the stop's cancels hang on the wire
        stopping = asyncio.ensure_future(server.stub.StopGrid(stop_request(close=True)))
        store = server.app.store
        assert store is not None

        async def saved_stopping() -> bool:
            record = await store.get_session(A_SESSION)
            return record is not None and record.status is SessionStatus.STOPPING

        await wait_until(saved_stopping, "the stop saved before the venue heard of it")
        assert server.app.service is not None
        for runner in server.app.service.runners:
            await runner.abandon()  # the crash: nothing more is written or sent
        stopping.cancel()
    await control.set_faults(FaultConfig())
    assert closing_orders(sim, prefix) == []

    async with running_app(sim, tmp_path) as server:

        async def stopped() -> bool:
            return (await server.get(A_SESSION)).status == grid_pb2.GRID_STATUS_STOPPED

        await wait_until(stopped, "the resumed stop to finish")
        assert venue_position(sim) == 0
        assert venue_orders(sim, prefix) == []
        assert [s.error_code for s in closing_submissions(sim, prefix)] == [None]
        ids = Counter(o.client_order_id for o in every_order(sim, prefix))
        assert all(count == 1 for count in ids.values()), ids


async def test_a_resumed_run_reads_only_its_own_fills_from_the_session_ledger(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """A session id (`<user>_<ticker>`) is reused by every run; the ledger keeps all their fills.
    The resume of a new run must not feed an earlier run's fills to the new run's engine."""
    async with running_app(sim, tmp_path) as server:
        first = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_price(SYMBOL, "41950")  # the first run's buy at 42000 fills
        await wait_for_order(sim, "SELL", "43000", "the first run's counter sell", prefix=first)
        await server.stub.StopGrid(stop_request(close=True))
        second = prefix_of((await server.stub.StartGrid(start_request(current_price=""))).grid)
        assert second != first
    with captured_logs("INFO") as stream:
        async with running_app(sim, tmp_path) as server:
            grid = await server.get(A_SESSION)
            assert grid.status == grid_pb2.GRID_STATUS_RUNNING
            assert len(venue_orders(sim, second)) == 5
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    anomalies = [line for line in lines if line.get("event") == "engine_anomaly"]
    assert anomalies == []
    assert not [line for line in lines if line.get("event") == "replaying_unapplied_fills"]


@pytest.fixture
async def thin_sim() -> AsyncIterator[RunningSimulator]:
    """A venue where a price step fills at most half of each resting order."""
    async with run_simulator(SimulatorConfig(port=0, seed=7, liquidity_fraction=Decimal("0.5"))) as running:
        yield running


async def test_a_partial_fill_whose_push_was_lost_is_booked_when_the_stop_cancels_its_order(
    thin_sim: RunningSimulator, tmp_path: Path
) -> None:
    """Found by the chaos suite: the stop cancelled a partly filled order whose trade push was lost
    and ended the cell on the cancel's answer alone; the trade never reached the ledger."""
    sim = thin_sim
    async with SimulatorControl(sim.rest_url) as control, running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_faults(FaultConfig(lost_push_rate=1.0))
        await control.set_price(SYMBOL, "41950")  # half of the buy at 42000 fills, unseen
        [partial] = [o for o in every_order(sim, prefix) if o.executed_quantity > 0]
        stopped = (await server.stub.StopGrid(stop_request(close=False))).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert Decimal(stopped.position.quantity) == partial.executed_quantity
        await control.set_faults(FaultConfig())
        replay = server.watch(A_SESSION)
        await replay.wait_for(lambda w: w.replay_complete, "the replay")
        assert [Decimal(f.quantity) for f in replay.fills] == [partial.executed_quantity]
        replay.cancel()


async def test_a_residual_below_the_venues_minimum_order_value_ends_the_stop_at_once(
    thin_sim: RunningSimulator, tmp_path: Path
) -> None:
    """Found by the chaos suite: a partial fill left less than the venue's min_notional; every
    closing order was refused (-1102), flattening retried, and the stop waited for its deadline.
    The refusal is final: the stop finishes and says what was left with the account."""
    sim = thin_sim
    async with SimulatorControl(sim.rest_url) as control, running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request(total_margin="100"))).grid)
        await control.set_price(SYMBOL, "41950")  # half of the small buy at 42000 fills: dust
        [partial] = [o for o in every_order(sim, prefix) if o.executed_quantity > 0]
        assert partial.executed_quantity * Decimal("41950") < 10  # below BTC's min_notional
        await wait_until_position(server, partial.executed_quantity)
        stopped = (await server.stub.StopGrid(stop_request(close=True))).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert f"{partial.executed_quantity} left with the account" in stopped.stop_detail
        assert [s.error_code for s in closing_submissions(sim, prefix)] == [-1102]
        assert venue_position(sim) == partial.executed_quantity


async def wait_until_position(server: Running, quantity: Decimal) -> None:
    async def reached() -> bool:
        return Decimal((await server.get(A_SESSION)).position.quantity or "0") == quantity

    await wait_until(reached, f"the session's position to reach {quantity}")


class FailingSessionWrites:
    """The real store, with a switch that makes session writes fail (a store outage)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def update_session(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing:
            raise StoreUnavailable("injected: session writes are failing")
        return await self._store.update_session(*args, **kwargs)


async def test_a_fill_of_a_round_whose_state_write_failed_is_applied_once_the_store_is_back(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Found in review: the fill was in the ledger, the state write failed and the round was undone;
    a later round saved a newer ledger position, so a restart took the fill as applied and dropped
    every later sight of it: the cell's buy stayed OPEN for ever and its counter order never came."""
    faulty: list[FailingSessionWrites] = []

    def wrap(store: Store) -> Store:
        faulty.append(FailingSessionWrites(store))
        return cast(Store, faulty[-1])

    async with running_app(sim, tmp_path, wrap_store=wrap) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        faulty[-1].failing = True
        await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills; the round cannot be saved
        replay = server.watch(A_SESSION)
        await replay.wait_for(lambda w: len(w.fills) == 1, "the fill in the ledger")
        replay.cancel()
        # The counter order goes out before the state write (the hot path); the write fails and the
        # round is undone, but the order is on the venue.
        await wait_for_order(sim, "SELL", "43000", "the counter sell, sent before the write", prefix=prefix)
        faulty[-1].failing = False
        await control.set_price(SYMBOL, "41960")  # a later round applies the fill again: not the order

        async def adopted() -> bool:
            grid = await server.get(A_SESSION)
            sells = [o for o in grid.open_orders if o.side == grid_pb2.SIDE_SELL and o.price == "43000"]
            return len(sells) == 1 and Decimal(grid.position.quantity) > 0

        await wait_until(adopted, "the session to hold the fill and the counter order it sent")
        sent = [s.client_order_id for s in sim.context.venue.submissions.get(sim.account.account_id, [])]
        assert all(count == 1 for count in Counter(sent).values()), Counter(sent)
    async with running_app(sim, tmp_path) as server:
        grid = await server.get(A_SESSION)
        [filled] = [o for o in every_order(sim, prefix) if o.status == "FILLED"]
        assert Decimal(grid.position.quantity) == filled.quantity
        ids = Counter(o.client_order_id for o in every_order(sim, prefix))
        assert all(count == 1 for count in ids.values()), ids


async def test_a_crash_while_a_failed_start_cancels_its_orders_never_revives_the_grid(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Found in review: the stop of a failed start was not saved before its cancels went out, so a
    crash then resumed the grid as RUNNING after StartGrid had answered ORDER_CREATION_FAILED."""
    async with running_app(sim, tmp_path) as server:
        await control.set_faults(FaultConfig(latency_ms=1_000))
        starting = asyncio.ensure_future(server.stub.StartGrid(start_request(total_margin="2000000")))
        store = server.app.store
        assert store is not None

        async def stop_saved() -> bool:
            record = await store.get_session(A_SESSION)
            if record is None or record.status is not SessionStatus.PENDING:
                return False
            return bool(record.engine_state["engine"]["status"] == "STOPPED")

        await wait_until(stop_saved, "the failed start's stop saved before its cancels")
        assert server.app.service is not None
        for runner in server.app.service.runners:
            await runner.abandon()
        starting.cancel()
    await control.set_faults(FaultConfig())
    prefix = next(o.client_order_id for o in sim.context.venue.account_orders(sim.account.account_id))
    prefix = (prefix or "").split("-")[0]
    async with running_app(sim, tmp_path) as server:

        async def failed() -> bool:
            return (await server.get(A_SESSION)).status == grid_pb2.GRID_STATUS_FAILED

        await wait_until(failed, "the resumed failed start to end FAILED")
        assert venue_orders(sim, prefix) == []
        ids = Counter(o.client_order_id for o in every_order(sim, prefix))
        assert all(count == 1 for count in ids.values()), ids


async def test_fills_booked_after_a_refused_close_are_closed_too(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Found by the long chaos run: the stop's close was sized from a ledger that had not yet seen
    two buys (their pushes lost), so the reduce-only close pointed the wrong way and was refused;
    the buys were booked a moment later, but the refusal stuck and the session ended long."""
    baseline = Decimal("0.01")
    await market(sim, "leftover1", Side.BUY, str(baseline))  # an earlier run's long on the account
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        await control.set_price(SYMBOL, "44050")  # the sell at 44000 fills: the session is short
        await wait_for_order(sim, "BUY", "43000", "the counter buy", prefix=prefix)
        await wait_until_position(server, -next(o.quantity for o in closing_candidates(sim, prefix)))
        await control.set_faults(FaultConfig(lost_push_rate=1.0))
        await control.set_price(SYMBOL, "41950")  # the buys at 43000 and 42000 fill, unseen
        stopped = (await server.stub.StopGrid(stop_request(close=True))).grid
        await control.set_faults(FaultConfig())
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert Decimal(stopped.position.quantity) == 0
        assert venue_position(sim) == baseline
        assert venue_orders(sim, prefix) == []


def closing_candidates(sim: RunningSimulator, prefix: str) -> list[Order]:
    """The session's filled sells (what it is short)."""
    return [o for o in every_order(sim, prefix) if o.side == "SELL" and o.status == "FILLED"]


async def test_a_crash_after_a_counter_order_went_out_before_its_state_was_saved_never_sends_it_again(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """The hot path sends a counter order once its fill is in the ledger, before the session state
    is saved. Crash in between: the restart applies the ledger's fill again and derives the same
    counter order, which it must resolve from the venue (adopt it), never send a second time."""
    faulty: list[FailingSessionWrites] = []

    def wrap(store: Store) -> Store:
        faulty.append(FailingSessionWrites(store))
        return cast(Store, faulty[-1])

    async with running_app(sim, tmp_path, wrap_store=wrap) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        faulty[-1].failing = True  # from now on no state write lands: the crash comes before one does
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(sim, "SELL", "43000", "the counter sell, sent before the write", prefix=prefix)
        assert server.app.service is not None
        for runner in server.app.service.runners:
            await runner.abandon()

    async with running_app(sim, tmp_path) as server:

        async def adopted() -> bool:
            grid = await server.get(A_SESSION)
            sells = [o for o in grid.open_orders if o.side == grid_pb2.SIDE_SELL and o.price == "43000"]
            return len(sells) == 1 and bool(sells[0].order_id)

        await wait_until(adopted, "the restarted session to adopt the counter order from the venue")
        grid = await server.get(A_SESSION)
        [filled] = [o for o in every_order(sim, prefix) if o.status == "FILLED"]
        assert Decimal(grid.position.quantity) == filled.quantity
    sent = [s.client_order_id for s in sim.context.venue.submissions.get(sim.account.account_id, [])]
    assert all(count == 1 for count in Counter(sent).values()), Counter(sent)
    assert (
        len([o for o in venue_orders(sim, prefix) if o.side == "SELL" and o.price == Decimal("43000")]) == 1
    )
