import asyncio

import pytest

from server.store import AccountRecord, InvalidRecord, Store
from tests.store.conftest import Backend
from tests.store.factories import T0_MS

USER = "0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a"


def account(**changes: object) -> AccountRecord:
    fields: dict[str, object] = {
        "user_id": USER,
        "account_id": "0x" + "ab" * 32,
        "orderly_key": "ed25519:8tm7dnKYkSc3K7RMVRZTSfw6iwCp3wv8g9v7H8Q2KpAi",
        "encrypted_secret": "v1:c2VhbGVk",
        "created_at_ms": T0_MS,
        "updated_at_ms": T0_MS,
    }
    fields.update(changes)
    return AccountRecord(**fields)  # type: ignore[arg-type]


async def test_a_registered_account_is_read_back_as_stored(store: Store) -> None:
    stored = await store.upsert_account(account())
    assert stored == account()
    assert await store.get_account(USER) == account()


async def test_an_unknown_user_has_no_account(store: Store) -> None:
    assert await store.get_account("0x" + "00" * 20) is None


async def test_registering_again_replaces_the_account_and_keeps_the_first_creation_time(
    store: Store,
) -> None:
    await store.upsert_account(account())
    replacement = account(
        account_id="0x" + "cd" * 32,
        orderly_key="ed25519:other",
        encrypted_secret="v1:bmV3",
        created_at_ms=T0_MS + 5_000,
        updated_at_ms=T0_MS + 5_000,
    )
    stored = await store.upsert_account(replacement)
    expected = account(
        account_id="0x" + "cd" * 32,
        orderly_key="ed25519:other",
        encrypted_secret="v1:bmV3",
        created_at_ms=T0_MS,
        updated_at_ms=T0_MS + 5_000,
    )
    assert stored == expected
    assert await store.get_account(USER) == expected


async def test_accounts_survive_a_restart_and_are_shared_between_stores(backend: Backend) -> None:
    first = await backend.open()
    await first.upsert_account(account())
    await first.close()
    backend.opened.remove(first)
    reopened, other = await backend.open(), await backend.open()
    assert await reopened.get_account(USER) == account()
    assert await other.get_account(USER) == account()


def test_an_account_record_names_the_missing_field_and_hides_the_encrypted_secret() -> None:
    with pytest.raises(InvalidRecord, match="orderly_key"):
        account(orderly_key="")
    assert "v1:c2VhbGVk" not in repr(account())


async def test_concurrent_first_registrations_on_two_stores_leave_one_consistent_account(
    backend: Backend,
) -> None:
    stores = [await backend.open(), await backend.open()]
    candidates = [account(orderly_key=f"ed25519:key{i}", encrypted_secret=f"v1:s{i}") for i in range(6)]
    await asyncio.gather(*(stores[i % 2].upsert_account(c) for i, c in enumerate(candidates)))
    stored = await stores[0].get_account(USER)
    assert stored in candidates  # one registration won whole: key and secret never mixed
    assert await stores[1].get_account(USER) == stored
