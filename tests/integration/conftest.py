"""Fixtures: a simulator on a loopback port (it outlives service restarts), its control client, and
the store the service runs on (SQLite in a temp dir, or MongoDB: nx-27017 as its own process, plus a
real mongod when MONGODB_URI is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from tests.integration.harness import StoreLocation
from tests.store.nx_server import NxServer, collect_sockets_left_by_pymongo

STORE_BACKENDS = ["sqlite", "mongo-nx"] + (["mongo-real"] if os.environ.get("MONGODB_URI") else [])


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with run_simulator(SimulatorConfig(port=0, seed=7)) as running:
        yield running


@pytest.fixture
async def control(sim: RunningSimulator) -> AsyncIterator[SimulatorControl]:
    client = SimulatorControl(sim.rest_url)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def integration_nx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer]:
    server = NxServer(tmp_path_factory.mktemp("nx-integration"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=STORE_BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreLocation]:
    """Where the service keeps its data: survives a service restart within the test."""
    database = f"grid_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield StoreLocation(data_dir=tmp_path)
        return
    if request.param == "mongo-nx":
        server: NxServer = request.getfixturevalue("integration_nx_server")
        uri = f"mongodb://127.0.0.1:{server.port}/{database}?directConnection=true"
    else:
        uri = os.environ["MONGODB_URI"]
    yield StoreLocation(data_dir=tmp_path, mongodb_uri=uri, mongodb_database=database)
    collect_sockets_left_by_pymongo()
