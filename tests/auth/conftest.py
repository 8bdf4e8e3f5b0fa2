"""Real wallets (fixed private keys), a controllable clock and a real SQLite store for the auth tests."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.auth import AuthVerifier
from server.store import SqliteStore
from tests.log_capture import captured_logs

T0_MS = 1_764_000_000_000
DOMAIN = "orderly-grid.test"
ALICE_KEY = "0x" + "a1" * 32
BOB_KEY = "0x" + "b2" * 32
ALICE = Account.from_key(ALICE_KEY).address
BOB = Account.from_key(BOB_KEY).address


@dataclass
class Clock:
    now_ms: int = T0_MS

    def __call__(self) -> int:
        return self.now_ms


def start_request(**changes: object) -> pb.StartGridRequest:
    fields: dict[str, object] = {
        "ticker": "BTCUSDT",
        "direction": grid_pb2.DIRECTION_LONG,
        "current_price": "42000",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "100",
    }
    fields.update(changes)
    return pb.StartGridRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "auth.sqlite3"


@pytest.fixture
async def store(store_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(store_path)
    yield opened
    await opened.close()


@pytest.fixture
def verifier(store: SqliteStore, clock: Clock) -> AuthVerifier:
    return AuthVerifier(store, clock_ms=clock, domain=DOMAIN)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered exactly as production renders it."""
    with captured_logs("INFO") as stream:
        yield stream
