"""Fixtures for the exchange adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.exchange.venues import Venue, simulator_venue, testnet_skip_reason, testnet_venue


@pytest.fixture(params=["simulator", "testnet"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    if request.param == "simulator":
        async with simulator_venue() as sim_venue:
            yield sim_venue
        return
    reason = testnet_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    async with testnet_venue() as live_venue:
        yield live_venue


@pytest.fixture
async def sim_venue() -> AsyncIterator[Venue]:
    async with simulator_venue() as simulated:
        yield simulated
