"""Fixtures: the real service on loopback (simulator from tests.integration), a wallet, an SDK client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from orderly_grid.client import GridClient
from orderly_grid.wallet import Wallet

from server.simulator import RunningSimulator
from tests.clients.service import LoopbackService
from tests.integration.conftest import control, sim  # noqa: F401  (fixtures reused, not copied)
from tests.integration.harness import USER_KEY

# The harness's fixed test key (never funded anywhere); its address is the user the server sees.
WALLET_KEY = USER_KEY


@pytest.fixture
def wallet() -> Wallet:
    return Wallet.from_key(WALLET_KEY)


@pytest.fixture
async def service(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[LoopbackService]:  # noqa: F811
    running = LoopbackService(sim, tmp_path / "data")
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def client(service: LoopbackService, wallet: Wallet) -> AsyncIterator[GridClient]:
    async with GridClient(service.target, wallet=wallet, timeout_s=10) as sdk:
        yield sdk
