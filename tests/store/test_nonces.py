import asyncio
import time

import pytest

from server.store import InvalidRecord, Store
from tests.store.conftest import Backend


@pytest.fixture
def now_ms() -> int:
    """Each test's clock starts at the wall clock when the test starts: MongoDB's TTL monitor purges by
    the server's own clock, so a nonce "live" at a time taken earlier (say, at import, a long suite
    ago) could be purged already. Expiries are minutes ahead, never racing it."""
    return int(time.time() * 1000)


WINDOW_MS = 300_000
MINUTE_MS = 60_000


async def test_a_nonce_is_accepted_once_and_a_replay_is_rejected(store: Store, now_ms: int) -> None:
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms)
    assert not await store.consume_nonce("0xabc", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms + 1)


async def test_nonces_are_per_user(store: Store, now_ms: int) -> None:
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms)
    assert await store.consume_nonce("0xdef", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms)


async def test_an_expired_nonce_no_longer_blocks_its_reuse(store: Store, now_ms: int) -> None:
    expiry = now_ms + MINUTE_MS
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry, now_ms=now_ms)
    assert not await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry + 5, now_ms=expiry - 1)
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry + MINUTE_MS, now_ms=expiry)
    assert not await store.consume_nonce(
        "0xabc", "n-1", expires_at_ms=expiry + 2 * MINUTE_MS, now_ms=expiry + 1
    )


async def test_concurrent_uses_of_one_nonce_accept_exactly_one(backend: Backend, now_ms: int) -> None:
    stores = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(
            stores[i % 2].consume_nonce("0xabc", "n-race", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms)
            for i in range(8)
        )
    )
    assert sorted(results) == [False] * 7 + [True]


async def test_a_replayed_nonce_is_still_rejected_after_a_restart(backend: Backend, now_ms: int) -> None:
    first = await backend.open()
    assert await first.consume_nonce("0xabc", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms)
    await first.close()
    backend.opened.remove(first)
    reopened = await backend.open()
    assert not await reopened.consume_nonce(
        "0xabc", "n-1", expires_at_ms=now_ms + WINDOW_MS, now_ms=now_ms + 5
    )


async def test_a_nonce_must_expire_after_now(store: Store, now_ms: int) -> None:
    with pytest.raises(InvalidRecord, match="expires_at_ms"):
        await store.consume_nonce("0xabc", "n-1", expires_at_ms=now_ms, now_ms=now_ms)
    with pytest.raises(InvalidRecord, match="nonce"):
        await store.consume_nonce("0xabc", "", expires_at_ms=now_ms + 1, now_ms=now_ms)
