"""Per-user Orderly accounts: stored with the secret encrypted, read back as credentials to trade
with, and the secret never shown: not in responses, reprs, the stored row, nor the logs."""

import base64
import io
from dataclasses import asdict
from pathlib import Path

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from orderly_grid import signing
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.auth import AccountRegistry, AuthenticatedUser, AuthVerifier, SecretBox
from server.exchange.auth import public_key_of
from server.store import SqliteStore
from tests.auth.conftest import ALICE, ALICE_KEY, DOMAIN, T0_MS, Clock

PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ORDERLY_SECRET = "ed25519:" + base58.b58encode(bytes(range(1, 33))).decode()
ORDERLY_KEY = public_key_of(PRIVATE)
ACCOUNT_ID = "0x" + "ab" * 32
MASTER_KEY = bytes(range(100, 132))
ALICE_USER = AuthenticatedUser(ALICE.lower(), "signature")


@pytest.fixture
def registry(store: SqliteStore, clock: Clock) -> AccountRegistry:
    return AccountRegistry(store, SecretBox(MASTER_KEY), clock_ms=clock)


async def test_a_registered_account_is_returned_without_its_secret_and_trades_with_it(
    registry: AccountRegistry, store: SqliteStore
) -> None:
    view = await registry.register(ALICE_USER, ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET)
    assert (view.user_id, view.account_id, view.orderly_key) == (ALICE.lower(), ACCOUNT_ID, ORDERLY_KEY)
    assert (view.created_ms, view.updated_ms) == (T0_MS, T0_MS)
    assert ORDERLY_SECRET not in repr(view)
    assert ORDERLY_SECRET not in str(asdict(view))
    stored = await store.get_account(ALICE.lower())
    assert stored is not None
    assert stored.encrypted_secret.startswith("v1:")
    assert base58.b58encode(bytes(range(1, 33))).decode() not in stored.encrypted_secret
    credentials = await registry.credentials_for(ALICE)
    assert credentials is not None
    assert credentials.account_id == ACCOUNT_ID
    assert credentials.orderly_key == ORDERLY_KEY
    assert credentials.private_key.private_bytes_raw() == bytes(range(1, 33))
    assert ORDERLY_SECRET[8:] not in repr(credentials)


async def test_a_user_without_an_account_trades_on_the_default(registry: AccountRegistry) -> None:
    assert await registry.credentials_for(ALICE) is None
    assert await registry.get(ALICE) is None


async def test_registering_again_replaces_the_credentials(registry: AccountRegistry, clock: Clock) -> None:
    await registry.register(ALICE_USER, ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET)
    clock.now_ms += 1000
    other_secret = bytes(range(2, 34))
    other_key = public_key_of(Ed25519PrivateKey.from_private_bytes(other_secret))
    view = await registry.register(
        ALICE_USER, ACCOUNT_ID, other_key, "ed25519:" + base58.b58encode(other_secret).decode()
    )
    assert (view.orderly_key, view.created_ms, view.updated_ms) == (other_key, T0_MS, T0_MS + 1000)
    credentials = await registry.credentials_for(ALICE)
    assert credentials is not None
    assert credentials.private_key.private_bytes_raw() == other_secret


async def test_credentials_survive_a_restart_with_the_same_master_key(store_path: Path, clock: Clock) -> None:
    first = await SqliteStore.open(store_path)
    await AccountRegistry(first, SecretBox(MASTER_KEY), clock_ms=clock).register(
        ALICE_USER, ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET
    )
    await first.close()
    reopened = await SqliteStore.open(store_path)
    try:
        credentials = await AccountRegistry(reopened, SecretBox(MASTER_KEY), clock_ms=clock).credentials_for(
            ALICE
        )
        assert credentials is not None
        assert credentials.orderly_key == ORDERLY_KEY
        with pytest.raises(DomainError) as caught:
            await AccountRegistry(reopened, SecretBox(bytes(32)), clock_ms=clock).credentials_for(ALICE)
        assert caught.value.reason == ErrorReason.ACCOUNT_NOT_REGISTERED
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    ("account_id", "orderly_key", "orderly_secret", "field"),
    [
        ("0x1234", ORDERLY_KEY, ORDERLY_SECRET, "account_id"),
        ("", ORDERLY_KEY, ORDERLY_SECRET, "account_id"),
        (
            ACCOUNT_ID,
            public_key_of(Ed25519PrivateKey.from_private_bytes(bytes(32))),
            ORDERLY_SECRET,
            "orderly_key",
        ),
        (ACCOUNT_ID, ORDERLY_KEY, "ed25519:0OIl", "orderly_secret"),
        (ACCOUNT_ID, ORDERLY_KEY, "", "orderly_secret"),
    ],
)
async def test_bad_credentials_are_named_and_the_secret_is_not_echoed(
    registry: AccountRegistry, account_id: str, orderly_key: str, orderly_secret: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        await registry.register(ALICE_USER, account_id, orderly_key, orderly_secret)
    assert caught.value.reason == ErrorReason.INVALID_ARGUMENT
    assert caught.value.field_violations[0].field == field
    assert ORDERLY_SECRET[8:] not in str(caught.value)


async def test_without_a_master_key_registration_is_refused(store: SqliteStore, clock: Clock) -> None:
    registry = AccountRegistry(store, SecretBox.from_setting(None), clock_ms=clock)
    assert not registry.enabled
    with pytest.raises(DomainError) as caught:
        await registry.register(ALICE_USER, ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET)
    assert caught.value.reason == ErrorReason.ACCOUNT_REGISTRATION_DISABLED
    assert caught.value.http_status == 400
    assert await store.get_account(ALICE.lower()) is None


async def test_the_operator_cannot_register_an_account(registry: AccountRegistry) -> None:
    with pytest.raises(DomainError) as caught:
        await registry.register(AuthenticatedUser("", "operator"), ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET)
    assert caught.value.reason == ErrorReason.PERMISSION_DENIED


async def test_a_signed_register_request_stores_the_account_and_the_secret_is_never_logged(
    store: SqliteStore, clock: Clock, log_output: io.StringIO
) -> None:
    verifier = AuthVerifier(store, clock_ms=clock, domain=DOMAIN)
    registry = AccountRegistry(store, SecretBox(MASTER_KEY), clock_ms=clock)
    request = pb.RegisterAccountRequest(
        account_id=ACCOUNT_ID, orderly_key=ORDERLY_KEY, orderly_secret=ORDERLY_SECRET
    )
    signing.sign_request(ALICE_KEY, DOMAIN, "RegisterAccount", request, timestamp_ms=T0_MS)
    user = await verifier.verify("RegisterAccount", request)
    view = await registry.register(user, request.account_id, request.orderly_key, request.orderly_secret)
    await registry.credentials_for(user.user_id)
    response = pb.RegisterAccountResponse(
        account=pb.Account(
            user_id=view.user_id,
            account_id=view.account_id,
            orderly_key=view.orderly_key,
            created_ms=view.created_ms,
            updated_ms=view.updated_ms,
        )
    )
    raw_secret = ORDERLY_SECRET.removeprefix("ed25519:")
    assert raw_secret not in str(response)
    assert raw_secret.encode() not in response.SerializeToString()
    logged = log_output.getvalue()
    assert "account_registered" in logged  # the log was captured, and holds no secret
    assert raw_secret not in logged
    assert base64.b64encode(MASTER_KEY).decode() not in logged
