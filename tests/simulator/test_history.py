"""The control surface's full history (orders, trades, submissions, positions), the partial-fill
liquidity share, funding on demand, and the history staying right for calls whose answer is lost."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest

from server.simulator import FaultConfig, RunningSimulator, SimulatorControl
from server.simulator.history import AccountHistory
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient
from tests.simulator.test_matching import BTC, limit


async def test_history_holds_every_accepted_order_its_trades_and_the_position(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(**limit("BUY", "42000", "0.01", client_order_id="g0000000001-0B0"))
    await rest.place(**limit("SELL", "43000", "0.01", client_order_id="g0000000001-1S0"))
    await control.set_price(BTC, "41900")
    history = await control.history(sim.account.account_id)
    assert [(o.client_order_id, o.side, o.status) for o in history.orders] == [
        ("g0000000001-0B0", "BUY", "FILLED"),
        ("g0000000001-1S0", "SELL", "NEW"),
    ]
    buy = history.orders[0]
    assert (buy.price, buy.quantity, buy.executed_quantity, buy.reduce_only) == (
        Decimal("42000"),
        Decimal("0.01"),
        Decimal("0.01"),
        False,
    )
    assert buy.order_type == "LIMIT"
    assert buy.updated_ms >= buy.created_ms > 0
    [trade] = history.trades
    assert (trade.order_id, trade.client_order_id, trade.side) == (buy.order_id, "g0000000001-0B0", "BUY")
    assert (trade.price, trade.quantity, trade.fee) == (
        Decimal("42000"),
        Decimal("0.01"),
        Decimal("0.01") * Decimal("42000") * QUIET.maker_fee_rate,
    )
    assert history.position(BTC) == Decimal("0.01")
    assert history.position("PERP_ETH_USDC") == 0
    assert [s.accepted for s in history.submissions] == [True, True]
    assert [s.order_id for s in history.submissions] == [o.order_id for o in history.orders]


async def test_a_duplicate_client_order_id_is_recorded_as_a_rejected_submission(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    cid = "g0000000002-3B7"
    await rest.place(**limit("BUY", "42000", "0.01", client_order_id=cid))
    status, _ = await rest.place(**limit("BUY", "42000", "0.01", client_order_id=cid))
    assert status == 409
    history = await control.history(sim.account.account_id)
    assert len(history.orders) == 1
    assert [(s.client_order_id, s.error_code, s.duplicate) for s in history.submissions] == [
        (cid, None, False),
        (cid, -1007, True),
    ]
    # Once the first is done the venue accepts the id again: the history shows both orders.
    await control.set_price(BTC, "41000")
    await rest.place(**limit("BUY", "40000", "0.01", client_order_id=cid))
    history = await control.history(sim.account.account_id)
    assert [o.client_order_id for o in history.orders] == [cid, cid]
    assert [s.accepted for s in history.submissions] == [True, False, True]


async def test_rejections_for_other_reasons_are_submissions_too_and_ids_are_per_account(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    other = await control.create_account()
    status, _ = await rest.place(**limit("BUY", "99999", "0.01", client_order_id="g0000000003-0B0"))
    assert status == 400
    order = limit("BUY", "42000", "0.01", client_order_id="g0000000003-0B0")
    await rest.call("POST", "/v1/order", order, account=other)
    mine = await control.history(sim.account.account_id)
    theirs = await control.history(other.account_id)
    assert [(s.error_code, s.order_id) for s in mine.submissions] == [(-1103, None)]
    assert mine.orders == ()
    assert [s.accepted for s in theirs.submissions] == [True]
    assert await control.account_ids() == [sim.account.account_id, other.account_id]


async def test_history_can_be_limited_to_a_symbol_and_unknown_accounts_are_an_error(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(**limit("BUY", "42000", "0.01"))
    await rest.place(
        symbol="PERP_ETH_USDC", order_type="LIMIT", side="BUY", order_price="2400", order_quantity="1"
    )
    eth = await control.history(sim.account.account_id, "PERP_ETH_USDC")
    assert [o.symbol for o in eth.orders] == ["PERP_ETH_USDC"]
    assert eth.submissions == ()  # neither order carried a client_order_id
    with pytest.raises(Exception, match="-1002"):
        await control.history("0x" + "0" * 64)


def test_history_round_trips_through_its_json_shape() -> None:
    data = {
        "account_id": "0xabc",
        "orders": [
            {
                "order_id": 7,
                "client_order_id": None,
                "symbol": BTC,
                "side": "SELL",
                "type": "MARKET",
                "price": None,
                "quantity": "0.5",
                "reduce_only": True,
                "status": "FILLED",
                "executed_quantity": "0.5",
                "created_ms": 1,
                "updated_ms": 2,
            }
        ],
        "trades": [],
        "submissions": [],
        "positions": [],
    }
    history = AccountHistory.from_json(data)
    assert history.orders[0].price is None
    assert history.orders[0].reduce_only
    assert AccountHistory.from_json(history.to_json()) == history


@pytest.mark.parametrize("sim_config", [replace(QUIET, liquidity_fraction=Decimal("0.4"))])
async def test_liquidity_fraction_fills_a_resting_order_over_several_price_steps(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(**limit("BUY", "42000", "0.01", client_order_id="g0000000004-0B0"))
    fills = [await control.set_price(BTC, price) for price in ("41990", "41980", "41970", "41960")]
    assert fills == [1, 1, 1, 0]
    history = await control.history(sim.account.account_id)
    assert [t.quantity for t in history.trades] == [Decimal("0.004"), Decimal("0.004"), Decimal("0.002")]
    assert {t.client_order_id for t in history.trades} == {"g0000000004-0B0"}
    assert history.orders[0].status == "FILLED"
    # An order that takes liquidity on arrival (a market close) is not held back by the share.
    await rest.place(symbol=BTC, order_type="MARKET", side="SELL", order_quantity="0.01", reduce_only=True)
    history = await control.history(sim.account.account_id)
    assert history.trades[-1].quantity == Decimal("0.01")
    assert history.position(BTC) == 0


@pytest.mark.parametrize("sim_config", [replace(QUIET, liquidity_fraction=Decimal("0.0001"))])
async def test_a_tiny_liquidity_fraction_still_fills_one_base_tick_per_step(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    status, _ = await rest.place(**limit("BUY", "42000", "0.0003"))
    assert status == 200
    assert await control.set_price(BTC, "41990") == 1
    assert await control.set_price(BTC, "41980") == 1
    history = await control.history(sim.account.account_id)
    assert [t.quantity for t in history.trades] == [Decimal("0.00001"), Decimal("0.00001")]


def test_liquidity_fraction_must_be_a_share() -> None:
    for bad in (Decimal(0), Decimal("1.5"), Decimal(-1)):
        with pytest.raises(ValueError, match="liquidity_fraction"):
            replace(QUIET, liquidity_fraction=bad)


@pytest.mark.parametrize("sim_config", [replace(QUIET, funding_rate=Decimal("0.001"))])
async def test_funding_on_demand_charges_open_positions_at_the_configured_rate(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(symbol=BTC, order_type="MARKET", side="BUY", order_quantity="0.1")
    assert await control.settle_funding() == Decimal("0.001")
    assert await control.settle_funding("-0.002") == Decimal("-0.002")
    [position] = (await control.history(sim.account.account_id)).positions
    mark = Decimal("42500")
    assert position.funding == Decimal("0.1") * mark * Decimal("0.001") - Decimal("0.1") * mark * Decimal(
        "0.002"
    )


async def test_an_order_whose_answer_never_arrived_is_in_the_history(
    sim: RunningSimulator, rest: RestClient, control: SimulatorControl
) -> None:
    """A client gone mid-call (killed, timed out) never learns the answer; the venue acted anyway and
    its history says so, which is what a restarted client must look up."""
    await control.set_faults(FaultConfig(latency_ms=300))
    cid = "g0000000005-0B0"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await rest.place(**limit("BUY", "42000", "0.01", client_order_id=cid))
    await control.set_faults(FaultConfig())
    deadline = time.monotonic() + 5
    history = await control.history(sim.account.account_id)
    while not history.orders and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        history = await control.history(sim.account.account_id)
    assert [(o.client_order_id, o.status) for o in history.orders] == [(cid, "NEW")]
    assert [s.client_order_id for s in history.submissions] == [cid]


async def test_the_history_route_needs_no_signature(sim: RunningSimulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sim.rest_url}/sim/history?account_id={sim.account.account_id}") as response,
    ):
        body = await response.json()
    assert response.status == 200
    assert body["success"] is True
    assert set(body["data"]) == {"account_id", "orders", "trades", "submissions", "positions"}
