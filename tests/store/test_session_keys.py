"""Contract: session keys and session-key nonce batches, on every backend."""

from __future__ import annotations

import time

import pytest

from server.store import InvalidRecord, Store
from server.store.key_records import NonceBatch, SessionKeyRecord, UsedNonce
from tests.store.conftest import Backend

DAY_MS = 86_400_000


@pytest.fixture
def now_ms() -> int:
    # The wall clock: MongoDB's TTL monitor purges batches by its own clock.
    return int(time.time() * 1000)


def key(
    key_id: str, now_ms: int, user_id: str = "0xabc", scopes: tuple[str, ...] = ("read",)
) -> SessionKeyRecord:
    return SessionKeyRecord(key_id, user_id, "0x" + "11" * 32, scopes, now_ms, now_ms + DAY_MS)


async def test_a_key_is_stored_once_and_read_back(store: Store, now_ms: int) -> None:
    record = key("sk_1", now_ms, scopes=("read", "trade"))
    assert await store.create_session_key(record)
    assert not await store.create_session_key(key("sk_1", now_ms, user_id="0xother"))
    assert await store.get_session_key("sk_1") == record
    assert await store.get_session_key("sk_unknown") is None


async def test_revoking_one_key_leaves_the_others(store: Store, now_ms: int) -> None:
    for key_id in ("sk_1", "sk_2"):
        await store.create_session_key(key(key_id, now_ms))
    assert await store.revoke_session_keys("0xabc", key_id="sk_1", now_ms=now_ms + 5) == 1
    assert await store.revoke_session_keys("0xabc", key_id="sk_1", now_ms=now_ms + 6) == 0
    revoked = await store.get_session_key("sk_1")
    assert revoked is not None
    assert revoked.revoked_at_ms == now_ms + 5
    kept = await store.get_session_key("sk_2")
    assert kept is not None
    assert kept.usable_at(now_ms + 7)


async def test_revoking_all_touches_only_the_users_live_keys(store: Store, now_ms: int) -> None:
    await store.create_session_key(key("sk_1", now_ms))
    await store.create_session_key(key("sk_2", now_ms))
    await store.create_session_key(key("sk_3", now_ms, user_id="0xdef"))
    assert await store.revoke_session_keys("0xabc", key_id=None, now_ms=now_ms + 1) == 2
    other = await store.get_session_key("sk_3")
    assert other is not None
    assert other.revoked_at_ms == 0
    assert await store.revoke_session_keys("0xabc", key_id="sk_3", now_ms=now_ms + 2) == 0  # not theirs


async def test_an_expired_key_is_not_counted_as_revoked(store: Store, now_ms: int) -> None:
    await store.create_session_key(key("sk_1", now_ms))
    assert await store.revoke_session_keys("0xabc", key_id=None, now_ms=now_ms + DAY_MS) == 0


def batch(batch_id: str, instance: str, written_at_ms: int, *nonces: str) -> NonceBatch:
    used = tuple(UsedNonce("sk_1", nonce, written_at_ms + 600_000) for nonce in nonces)
    return NonceBatch(batch_id, instance, written_at_ms, used)


async def test_nonce_batches_of_other_instances_are_listed_oldest_first(
    backend: Backend, now_ms: int
) -> None:
    writer, reader = await backend.open(), await backend.open()
    await writer.append_nonce_batch(batch("a-2", "a", now_ms + 2, "n3"))
    await writer.append_nonce_batch(batch("a-1", "a", now_ms + 1, "n1", "n2"))
    await writer.append_nonce_batch(batch("a-1", "a", now_ms + 1, "n1", "n2"))  # a retried write
    await reader.append_nonce_batch(batch("b-1", "b", now_ms + 1, "n9"))
    seen = await reader.list_nonce_batches(written_since_ms=now_ms, now_ms=now_ms + 3, exclude_instance="b")
    assert [b.batch_id for b in seen] == ["a-1", "a-2"]
    assert [u.nonce for u in seen[0].nonces] == ["n1", "n2"]
    later = await reader.list_nonce_batches(
        written_since_ms=now_ms + 2, now_ms=now_ms + 3, exclude_instance="b"
    )
    assert [b.batch_id for b in later] == ["a-2"]


async def test_expired_nonce_batches_are_not_listed(store: Store, now_ms: int) -> None:
    await store.append_nonce_batch(batch("a-1", "a", now_ms, "n1"))
    assert (
        await store.list_nonce_batches(written_since_ms=0, now_ms=now_ms + 600_000, exclude_instance="b")
        == []
    )


async def test_a_batch_without_nonces_is_refused(store: Store, now_ms: int) -> None:
    with pytest.raises(InvalidRecord, match="nonces"):
        await store.append_nonce_batch(NonceBatch("a-1", "a", now_ms, ()))
