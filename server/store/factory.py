"""Choose the backend: MongoDB when a MONGODB_URI is given, else the embedded SQLite file."""

from __future__ import annotations

from pathlib import Path

from server.store.mongo import MongoStore
from server.store.protocol import Store
from server.store.sqlite import SqliteStore

DEFAULT_DATA_DIR = "./data"


async def open_store(
    mongodb_uri: str | None, data_dir: str | Path = DEFAULT_DATA_DIR, *, mongodb_database: str | None = None
) -> Store:
    """`mongodb_uri` None or empty selects SQLite at <data_dir>/orderly-grid.sqlite3. The Mongo
    database is `mongodb_database`, else the one named in the URI, else `orderly_grid`."""
    if mongodb_uri:
        return await MongoStore.open(mongodb_uri, database=mongodb_database)
    return await SqliteStore.open_in_dir(data_dir)
