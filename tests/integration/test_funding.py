"""The venue's funding reaches the session's PnL: a settlement on the account's position is booked
to the session in proportion to the part of that position that is the session's inventory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from engine import OrderType, PlaceOrder, Side
from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from tests.integration.harness import (
    SYMBOL,
    USER,
    running_app,
    running_venue_client,
    start_request,
    wait_until,
)

RATE = Decimal("0.0001")
INTERVAL_MS = 60_000


@pytest.fixture
async def funding_sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        port=0, seed=7, virtual_clock=True, funding_rate=RATE, funding_interval_ms=INTERVAL_MS
    )
    async with run_simulator(config) as running:
        yield running


async def test_funding_on_a_position_the_account_held_before_the_grid_is_not_the_grids(
    funding_sim: RunningSimulator, tmp_path: Path
) -> None:
    """The account already holds a long on the symbol when the grid starts (an earlier run's
    leftover, the user's own trade): funding settles on the account's whole position, and the
    session is booked only its inventory's share."""
    sim = funding_sim
    baseline = Decimal("0.005")
    async with SimulatorControl(sim.rest_url) as control, running_app(sim, tmp_path) as server:
        async with running_venue_client(sim) as venue_client:
            await venue_client.place_order(
                SYMBOL, PlaceOrder("leftover1", Side.BUY, OrderType.MARKET, baseline, None)
            )
        await server.stub.StartGrid(start_request())
        session_id = f"{USER}_BTCUSDT"
        await control.set_price(SYMBOL, "41900")  # the buy at 42000 fills; the mark stays 41900

        async def long() -> bool:
            return Decimal((await server.get(session_id)).position.quantity or "0") > 0

        await wait_until(long, "the session to hold its buy")
        position = Decimal((await server.get(session_id)).position.quantity)

        await control.advance_clock(INTERVAL_MS)  # one funding settlement on the account's position

        async def funded() -> bool:
            return Decimal((await server.get(session_id)).pnl.funding or "0") != 0

        await wait_until(funded, "the funding to reach the session")
        mark = Decimal("41900")
        pnl = (await server.get(session_id)).pnl
        # Longs pay a positive rate: funding is a cost of position * mark * rate.
        assert Decimal(pnl.funding) == pytest.approx(-(position * mark * RATE), abs=Decimal("1e-9"))
        assert Decimal(pnl.total) == Decimal(pnl.realized) + Decimal(pnl.unrealized) + Decimal(pnl.funding)
        account = sim.context.accounts.get(sim.account.account_id)
        assert account is not None
        assert account.positions[SYMBOL].funding_total == pytest.approx(
            (position + baseline) * mark * RATE, abs=Decimal("1e-6")
        )
