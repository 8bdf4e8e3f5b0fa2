"""The venue's funding reaches the sessions' PnL: a settlement on the account's position is split
between the sessions on the symbol in proportion to their positions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from tests.integration.harness import OTHER_USER, SYMBOL, USER, auth, running_app, start_request, wait_until

RATE = Decimal("0.0001")
INTERVAL_MS = 60_000


@pytest.fixture
async def funding_sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        port=0, seed=7, virtual_clock=True, funding_rate=RATE, funding_interval_ms=INTERVAL_MS
    )
    async with run_simulator(config) as running:
        yield running


async def test_funding_is_booked_to_each_session_in_proportion_to_its_position(
    funding_sim: RunningSimulator, tmp_path: Path
) -> None:
    sim = funding_sim
    async with SimulatorControl(sim.rest_url) as control, running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        await server.stub.StartGrid(start_request(total_margin="2000", user_auth=auth(OTHER_USER)))
        mine, theirs = f"{USER}_BTCUSDT", f"{OTHER_USER}_BTCUSDT"

        await control.set_price(SYMBOL, "41900")  # both buys at 42000 fill; the mark stays 41900

        sessions = ((mine, USER), (theirs, OTHER_USER))

        async def both_long() -> bool:
            return all([Decimal((await server.get(s, u)).position.quantity or "0") > 0 for s, u in sessions])

        await wait_until(both_long, "both sessions to hold their buy")
        my_position = Decimal((await server.get(mine, USER)).position.quantity)
        their_position = Decimal((await server.get(theirs, OTHER_USER)).position.quantity)
        assert their_position > my_position  # twice the margin: a larger position, a larger share

        await control.advance_clock(INTERVAL_MS)  # one funding settlement on the account's position

        async def funded() -> bool:
            return all([Decimal((await server.get(s, u)).pnl.funding or "0") != 0 for s, u in sessions])

        await wait_until(funded, "the funding to reach both sessions")
        mark = Decimal("41900")
        for session_id, user_id, position in (
            (mine, USER, my_position),
            (theirs, OTHER_USER, their_position),
        ):
            pnl = (await server.get(session_id, user_id)).pnl
            # Longs pay a positive rate: funding is a cost of position * mark * rate.
            assert Decimal(pnl.funding) == pytest.approx(-(position * mark * RATE), abs=Decimal("1e-9"))
            total = Decimal(pnl.realized) + Decimal(pnl.unrealized) + Decimal(pnl.funding)
            assert Decimal(pnl.total) == total
        account = sim.context.accounts.get(sim.account.account_id)
        assert account is not None
        assert account.positions[SYMBOL].funding_total == (my_position + their_position) * mark * RATE
