import asyncio

import pytest

from server.store import InvalidRecord, Lease, Store
from tests.store.conftest import Backend

NOW_MS = 1_764_000_000_000
TTL_MS = 15_000


async def test_a_live_lease_keeps_other_owners_out(store: Store) -> None:
    lease = await store.acquire_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS)
    assert lease == Lease("s1", "node-a", NOW_MS + TTL_MS)
    assert await store.acquire_lease("s1", "node-b", ttl_ms=TTL_MS, now_ms=NOW_MS + TTL_MS - 1) is None
    assert await store.get_lease("s1") == lease


async def test_an_expired_lease_can_be_taken_over(store: Store) -> None:
    await store.acquire_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS)
    taken = await store.acquire_lease("s1", "node-b", ttl_ms=TTL_MS, now_ms=NOW_MS + TTL_MS)
    assert taken == Lease("s1", "node-b", NOW_MS + 2 * TTL_MS)
    assert await store.renew_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS + TTL_MS + 1) is None
    assert await store.get_lease("s1") == taken


async def test_the_owner_extends_by_acquiring_again_or_renewing(store: Store) -> None:
    await store.acquire_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS)
    again = await store.acquire_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS + 1000)
    assert again == Lease("s1", "node-a", NOW_MS + 1000 + TTL_MS)
    renewed = await store.renew_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS + 2000)
    assert renewed == Lease("s1", "node-a", NOW_MS + 2000 + TTL_MS)
    assert await store.get_lease("s1") == renewed


async def test_only_the_owner_releases_and_then_anyone_may_acquire(store: Store) -> None:
    await store.acquire_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS)
    assert not await store.release_lease("s1", "node-b")
    assert await store.release_lease("s1", "node-a")
    assert await store.get_lease("s1") is None
    assert await store.renew_lease("s1", "node-a", ttl_ms=TTL_MS, now_ms=NOW_MS) is None
    assert await store.acquire_lease("s1", "node-b", ttl_ms=TTL_MS, now_ms=NOW_MS + 1) is not None


async def test_concurrent_acquires_grant_one_owner(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(stores[i % 2].acquire_lease("s1", f"node-{i}", ttl_ms=TTL_MS, now_ms=NOW_MS) for i in range(6))
    )
    granted = [lease for lease in results if lease is not None]
    assert len(granted) == 1
    assert await stores[0].get_lease("s1") == granted[0]


async def test_a_lease_needs_a_positive_ttl(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="ttl_ms"):
        await store.acquire_lease("s1", "node-a", ttl_ms=0, now_ms=NOW_MS)
