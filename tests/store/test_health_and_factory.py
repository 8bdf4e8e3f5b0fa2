import sqlite3
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from server.store import MongoStore, SqliteStore, Store, StoreUnavailable, open_store
from tests.store.conftest import Backend
from tests.store.nx_server import NxServer, collect_sockets_left_by_pymongo, free_port


async def test_health_reports_ok_with_backend_name_and_latency(backend: Backend, store: Store) -> None:
    status = await store.health()
    assert status.ok, status.detail
    assert status.backend == ("sqlite" if backend.name == "sqlite" else "mongo")
    assert 0 <= status.latency_ms < 2000


async def test_sqlite_health_fails_once_the_store_is_closed(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "h.sqlite3")
    await store.close()
    status = await store.health()
    assert not status.ok
    assert "sqlite" in status.detail


async def test_without_mongodb_uri_the_store_is_a_wal_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    store = await open_store(None, tmp_path / "data")
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "data" / "orderly-grid.sqlite3"
        assert store.path.exists()
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "data" / "orderly-grid.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_with_mongodb_uri_the_store_is_mongo_with_indexes_created(nx_server: NxServer) -> None:
    store = await open_store(nx_server.uri, "unused", mongodb_database="factory_check")
    try:
        assert isinstance(store, MongoStore)
        assert (await store.health()).ok
    finally:
        await store.close()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(nx_server.uri)
    try:
        db = client["factory_check"]
        fills = await db["fills"].index_information()
        unique_keys = {tuple(k for k, _ in spec["key"]) for spec in fills.values() if spec.get("unique")}
        assert ("order_id", "trade_id") in unique_keys
        assert ("user_id", "seq") in unique_keys
        assert ("session_id", "seq") in {tuple(k for k, _ in spec["key"]) for spec in fills.values()}
        nonces = await db["nonces"].index_information()
        ttl = [spec for spec in nonces.values() if "expireAfterSeconds" in spec]
        assert [tuple(k for k, _ in spec["key"]) for spec in ttl] == [("expire_at",)]
        sessions = await db["sessions"].index_information()
        assert any(spec["key"][0][0] == "user_id" for spec in sessions.values())
    finally:
        await client.close()


async def test_sqlite_file_of_another_schema_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE fills (session_id TEXT, seq INTEGER)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(StoreUnavailable, match=r"schema version 1, this build needs 3.*move the file away"):
        await SqliteStore.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        assert [r[1] for r in conn.execute("PRAGMA table_info(fills)")] == ["session_id", "seq"]
    conn.close()


async def test_sqlite_locked_by_another_process_for_too_long_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = await SqliteStore.open(path, busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(
            StoreUnavailable, match="sqlite consume_nonce: OperationalError: database is locked"
        ):
            await store.consume_nonce("0xabc", "n-1", expires_at_ms=2, now_ms=1)
        other.execute("ROLLBACK")
        assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=2, now_ms=1)
    finally:
        other.close()
        await store.close()


async def test_mongo_that_nobody_serves_is_unavailable_at_open() -> None:
    with pytest.raises(StoreUnavailable, match="cannot open MongoDB store"):
        await MongoStore.open(f"mongodb://127.0.0.1:{free_port()}/", server_selection_timeout_ms=300)
    collect_sockets_left_by_pymongo()


async def test_a_malformed_mongodb_uri_is_reported_without_echoing_it() -> None:
    with pytest.raises(StoreUnavailable, match="invalid MONGODB_URI") as raised:
        await MongoStore.open("mongodb://user:s3cret@")
    assert "s3cret" not in str(raised.value)
