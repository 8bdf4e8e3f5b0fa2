"""The whole orderly-grid service on a loopback port that survives restarts.

`tests.integration.harness.running_app` binds port 0 on every start; a client that must find the
server again after a restart (the resume tests) needs the same port, so this starts the same
Application with the harness's settings but keeps the first port it got.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from server.app import Application, simulator_exchange_config
from server.service.runner import RunnerSettings
from server.settings import Settings
from server.simulator import RunningSimulator
from tests.integration.harness import venue_orders, wait_until


class LoopbackService:
    """Start, stop and restart the service on one port, with one data directory (SQLite store)."""

    def __init__(self, sim: RunningSimulator, data_dir: Path) -> None:
        self.sim = sim
        self.data_dir = data_dir
        self.port = 0
        self.app: Application | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        settings = replace(
            Settings(), grpc_port=self.port, rest_port=0, data_dir=self.data_dir, shutdown_grace_s=1.0
        )
        exchange_config = replace(
            simulator_exchange_config(self.sim), ws_reconnect_base_ms=50, ws_reconnect_max_ms=500, seed=7
        )
        app = Application(
            settings,
            simulator=self.sim,
            exchange_config=exchange_config,
            runner_settings=RunnerSettings(stop_timeout_ms=3_000),
            with_rest=False,
        )
        await app.start()
        self.app = app
        self.port = app.grpc_port

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop(grace_s=1.0)
            self.app = None


async def wait_for_resting_order(sim: RunningSimulator, side: str, price: str) -> None:
    """Wait until the venue book holds an order of ours at `price` (e.g. a counter order)."""

    async def resting() -> bool:
        return any(o.side == side and o.price == Decimal(price) for o in venue_orders(sim))

    await wait_until(resting, f"a resting {side} at {price} on the venue")
