"""The contract suite runs every test against each backend: SQLite (temp file), MongoDB API via an
nx-27017 process, and a real mongod when MONGODB_URI is set. Each test gets a fresh database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from server.store import MongoStore, SqliteStore, Store
from tests.store.nx_server import NxServer

BACKENDS = ["sqlite", "mongo-nx"] + (["mongo-real"] if os.environ.get("MONGODB_URI") else [])


@pytest.fixture(scope="session")
def nx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer]:
    server = NxServer(tmp_path_factory.mktemp("nx"))
    server.start()
    yield server
    server.stop()


@dataclass
class Backend:
    """Opens Store instances on one fresh location, so a test can run two writers or reopen."""

    name: str
    sqlite_path: Path | None = None
    mongo_uri: str | None = None
    database: str | None = None
    opened: list[Store] = field(default_factory=list)

    async def open(self) -> Store:
        store: Store
        if self.sqlite_path is not None:
            store = await SqliteStore.open(self.sqlite_path)
        else:
            assert self.mongo_uri is not None
            store = await MongoStore.open(
                self.mongo_uri, database=self.database, server_selection_timeout_ms=3000
            )
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()
        self.opened.clear()


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, nx_server: NxServer
) -> AsyncIterator[Backend]:
    name: str = request.param
    database = f"t_{uuid.uuid4().hex}"
    if name == "sqlite":
        backend = Backend(name, sqlite_path=tmp_path / "store.sqlite3")
    elif name == "mongo-nx":
        backend = Backend(name, mongo_uri=nx_server.uri, database=database)
    else:
        backend = Backend(name, mongo_uri=os.environ["MONGODB_URI"], database=database)
    yield backend
    await backend.close_all()
    if name == "mongo-real":
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(os.environ["MONGODB_URI"])
        await client.drop_database(database)
        await client.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
