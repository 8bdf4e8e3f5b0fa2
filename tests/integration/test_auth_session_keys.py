"""Session keys through the real gRPC server (issue 16): the wallet authorizes an ed25519 key once
(EIP-712), the key then signs reads (and trades, with the `trade` scope). Expiry, revocation,
scopes, replay in one process, across a restart and across two instances on one store, and forged
keys and authorizations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import grpc
from google.protobuf import json_format
from orderly_grid import session_keys as sk
from orderly_grid.client import GridClient
from orderly_grid.v1 import grid_service_pb2 as pb

from server.settings import Settings
from server.simulator import RunningSimulator
from tests.integration.harness import (
    DOMAIN,
    OTHER_USER_KEY,
    USER,
    USER_KEY,
    Running,
    StoreLocation,
    now_ms,
    rpc_error,
    running_app,
    signed,
    start_request,
)

SESSION_ID = f"{USER}_BTCUSDT"
HOUR_MS = 3_600_000


class Clock:
    """The server's auth clock, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


async def create_key(
    server: Running,
    scopes: tuple[str, ...] = ("read",),
    *,
    clock: Callable[[], int] = now_ms,
    expires_at_ms: int = 0,
    wallet_key: str = USER_KEY,
) -> sk.SessionKey:
    timestamp_ms = clock()
    key = sk.SessionKey.generate("", scopes, sk.effective_expiry_ms(expires_at_ms, timestamp_ms))
    request = pb.CreateSessionKeyRequest(
        public_key=key.public_key_hex, scopes=list(scopes), expires_at_ms=expires_at_ms
    )
    auth = sk.authorize_session_key(wallet_key, DOMAIN, request, timestamp_ms=timestamp_ms)
    response = await server.stub.CreateSessionKey(request)
    assert response.session_key.key_id == key.key_id
    return replace(key, user_id=auth.user_id)


def get_request(key: sk.SessionKey, *, timestamp_ms: int | None = None) -> pb.GetGridRequest:
    request = pb.GetGridRequest(session_id=SESSION_ID)
    sk.sign_with_session_key(key, DOMAIN, "GetGrid", request, timestamp_ms=timestamp_ms or now_ms())
    return request


async def test_a_session_key_reads_without_the_wallet_and_refuses_a_replay(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(signed("StartGrid", start_request()))
        key = await create_key(server)
        request = get_request(key)
        assert (await server.stub.GetGrid(request)).grid.session_id == SESSION_ID
        listing = pb.ListGridsRequest()
        sk.sign_with_session_key(key, DOMAIN, "ListGrids", listing, timestamp_ms=now_ms())
        assert [g.session_id for g in (await server.stub.ListGrids(listing)).grids] == [SESSION_ID]
        code, error = await rpc_error(server.stub.GetGrid(request))  # the same signed request again
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")


async def test_a_call_outside_the_keys_scopes_is_refused_naming_the_scope(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        key = await create_key(server, ("read",))
        start = start_request()
        start.ClearField("user_auth")
        sk.sign_with_session_key(key, DOMAIN, "StartGrid", start, timestamp_ms=now_ms())
        code, error = await rpc_error(server.stub.StartGrid(start))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "'trade' scope" in error.message
        # Key management needs the wallet itself, whatever the key's scopes.
        revoke = pb.RevokeSessionKeyRequest(all=True)
        sk.sign_with_session_key(key, DOMAIN, "RevokeSessionKey", revoke, timestamp_ms=now_ms())
        code, error = await rpc_error(server.stub.RevokeSessionKey(revoke))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "wallet's own signature" in error.message


async def test_a_trade_key_starts_and_stops_a_grid(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        key = await create_key(server, ("read", "trade"))
        start = start_request()
        start.ClearField("user_auth")
        sk.sign_with_session_key(key, DOMAIN, "StartGrid", start, timestamp_ms=now_ms())
        assert (await server.stub.StartGrid(start)).grid.session_id == SESSION_ID
        stop = pb.StopGridRequest(session_id=SESSION_ID)
        sk.sign_with_session_key(key, DOMAIN, "StopGrid", stop, timestamp_ms=now_ms())
        await server.stub.StopGrid(stop)
        code, error = await rpc_error(server.stub.StopGrid(stop))  # replayed: refused by the store
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")


async def test_an_expired_key_is_refused(sim: RunningSimulator, tmp_path: Path) -> None:
    clock = Clock()
    async with running_app(sim, tmp_path, auth_clock_ms=clock) as server:
        key = await create_key(server, clock=clock, expires_at_ms=clock.now + HOUR_MS)
        code, error = await rpc_error(server.stub.GetGrid(get_request(key, timestamp_ms=clock.now)))
        assert error.reason == "SESSION_NOT_FOUND"  # authenticated; there is no such session
        clock.now += HOUR_MS
        code, error = await rpc_error(server.stub.GetGrid(get_request(key, timestamp_ms=clock.now)))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_KEY_EXPIRED")


async def test_an_expiry_beyond_seven_days_is_refused_naming_the_field(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(create_key(server, expires_at_ms=now_ms() + 7 * 24 * HOUR_MS + 60_000))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["expires_at_ms"]


async def test_revocation_is_immediate_one_key_or_all(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        first, second, third = [await create_key(server) for _ in range(3)]
        for key in (first, second, third):  # each is cached by now
            assert (await rpc_error(server.stub.GetGrid(get_request(key))))[1].reason == "SESSION_NOT_FOUND"
        revoke_one = signed("RevokeSessionKey", pb.RevokeSessionKeyRequest(key_id=first.key_id))
        assert (await server.stub.RevokeSessionKey(revoke_one)).revoked == 1
        code, error = await rpc_error(server.stub.GetGrid(get_request(first)))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_KEY_REVOKED")
        assert (await rpc_error(server.stub.GetGrid(get_request(second))))[1].reason == "SESSION_NOT_FOUND"
        revoke_all = signed("RevokeSessionKey", pb.RevokeSessionKeyRequest(all=True))
        assert (await server.stub.RevokeSessionKey(revoke_all)).revoked == 2
        for key in (second, third):
            assert (await rpc_error(server.stub.GetGrid(get_request(key))))[1].reason == "SESSION_KEY_REVOKED"


async def test_a_revocation_reaches_another_instance_when_its_cache_entry_ends(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    clock = Clock()
    settings = replace(Settings(), session_key_cache_ms=5_000)
    async with (
        running_app(sim, tmp_path, auth_clock_ms=clock, settings=settings) as first,
        running_app(sim, tmp_path, auth_clock_ms=clock, settings=settings) as second,
    ):
        key = await create_key(first, clock=clock)
        get = second.stub.GetGrid
        assert (await rpc_error(get(get_request(key, timestamp_ms=clock.now))))[
            1
        ].reason == "SESSION_NOT_FOUND"
        await first.stub.RevokeSessionKey(signed("RevokeSessionKey", pb.RevokeSessionKeyRequest(all=True)))
        clock.now += 4_999  # still cached on the second instance
        assert (await rpc_error(get(get_request(key, timestamp_ms=clock.now))))[
            1
        ].reason == "SESSION_NOT_FOUND"
        clock.now += 1
        _, error = await rpc_error(get(get_request(key, timestamp_ms=clock.now)))
        assert error.reason == "SESSION_KEY_REVOKED"


async def test_a_replay_is_refused_after_a_restart(sim: RunningSimulator, tmp_path: Path) -> None:
    clock = Clock()
    async with running_app(sim, tmp_path, auth_clock_ms=clock) as server:
        key = await create_key(server, clock=clock)
        request = get_request(key, timestamp_ms=clock.now)
        assert (await rpc_error(server.stub.GetGrid(request)))[1].reason == "SESSION_NOT_FOUND"
    clock.now += 1  # the next process starts later (and nothing says its batch was written)
    async with running_app(sim, tmp_path, auth_clock_ms=clock) as restarted:
        code, error = await rpc_error(restarted.stub.GetGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_EXPIRED")
        fresh = get_request(key, timestamp_ms=clock.now)  # the key itself still works
        assert (await rpc_error(restarted.stub.GetGrid(fresh)))[1].reason == "SESSION_NOT_FOUND"


async def test_a_replay_is_refused_by_another_instance_once_the_batch_is_shared(
    sim: RunningSimulator, store_location: StoreLocation
) -> None:
    async with (
        running_app(sim, store_location) as first,
        running_app(sim, store_location) as second,
    ):
        key = await create_key(first)
        request = get_request(key)
        assert (await rpc_error(second.stub.GetGrid(get_request(key))))[1].reason == "SESSION_NOT_FOUND"
        assert (await rpc_error(first.stub.GetGrid(request)))[1].reason == "SESSION_NOT_FOUND"
        for running in (first, second):  # what each process's background task does every 50 ms
            assert running.app.auth is not None
            assert running.app.auth.session_keys is not None
        await first.app.auth.session_keys.ledger.flush()  # type: ignore[union-attr]
        await second.app.auth.session_keys.ledger.sync()  # type: ignore[union-attr]
        code, error = await rpc_error(second.stub.GetGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")


async def test_forged_keys_and_authorizations_are_refused(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        key = await create_key(server)
        # Another key pair claiming the authorized key's id.
        impostor = replace(sk.SessionKey.generate(key.user_id, ("read",), key.expires_at_ms))
        request = pb.GetGridRequest(session_id=SESSION_ID)
        sk.sign_with_session_key(impostor, DOMAIN, "GetGrid", request, timestamp_ms=now_ms())
        request.user_auth.session_key_id = key.key_id
        code, error = await rpc_error(server.stub.GetGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        # A key nobody authorized.
        code, error = await rpc_error(server.stub.GetGrid(get_request(impostor)))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_KEY_INVALID")
        # The other wallet's key, used for this wallet.
        others = await create_key(server, wallet_key=OTHER_USER_KEY)
        code, error = await rpc_error(server.stub.GetGrid(get_request(replace(others, user_id=key.user_id))))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_KEY_INVALID")
        # An authorization whose scopes were widened after the wallet signed.
        fresh = sk.SessionKey.generate("", ("read",), 0)
        create = pb.CreateSessionKeyRequest(public_key=fresh.public_key_hex, scopes=["read"])
        sk.authorize_session_key(USER_KEY, DOMAIN, create, timestamp_ms=now_ms())
        create.scopes.append("trade")
        code, error = await rpc_error(server.stub.CreateSessionKey(create))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        # An authorization signed by another wallet in the name of this one.
        create = pb.CreateSessionKeyRequest(public_key=fresh.public_key_hex, scopes=["read"])
        sk.authorize_session_key(OTHER_USER_KEY, DOMAIN, create, timestamp_ms=now_ms())
        create.user_auth.user_id = key.user_id
        code, error = await rpc_error(server.stub.CreateSessionKey(create))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")


async def test_the_sdk_creates_a_key_once_and_replaces_a_revoked_one(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(signed("StartGrid", start_request()))
        async with GridClient(server.app.grpc_target, wallet=USER_KEY, session_key="auto") as client:
            assert (await client.get_grid(SESSION_ID)).session_id == SESSION_ID
            first = client.session_key
            assert first is not None
            assert (await client.get_grid(SESSION_ID)).session_id == SESSION_ID
            assert client.session_key is first  # no second wallet signature for a read
            assert await client.revoke_session_key() == 1
            await server.stub.RevokeSessionKey(
                signed("RevokeSessionKey", pb.RevokeSessionKeyRequest(all=True))
            )
            client.session_key = first  # as if revoked elsewhere: the client still holds it
            assert (await client.get_grid(SESSION_ID)).session_id == SESSION_ID
            assert client.session_key is not None
            assert client.session_key.key_id != first.key_id


async def test_rest_creates_a_key_and_reads_with_it(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path, with_rest=True) as server:
        await server.stub.StartGrid(signed("StartGrid", start_request()))
        timestamp_ms = now_ms()
        key = sk.SessionKey.generate("", ("read",), sk.effective_expiry_ms(0, timestamp_ms))
        create = pb.CreateSessionKeyRequest(public_key=key.public_key_hex, scopes=["read"])
        auth = sk.authorize_session_key(USER_KEY, DOMAIN, create, timestamp_ms=timestamp_ms)
        key = replace(key, user_id=auth.user_id)
        body = json_format.MessageToDict(create, preserving_proto_field_name=True)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.app.rest_url}/api/grid/session-keys", json=body) as response:
                answer = await response.json()
                assert response.status == 200, answer
                assert answer["data"]["session_key"]["key_id"] == key.key_id
            block = get_request(key).user_auth
            params = {
                "user_auth.user_id": block.user_id,
                "user_auth.signature": block.signature,
                "user_auth.timestamp": str(block.timestamp),
                "user_auth.nonce": block.nonce,
                "user_auth.session_key_id": block.session_key_id,
            }
            url = f"{server.app.rest_url}/api/grid/status/{SESSION_ID}"
            async with http.get(url, params=params) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["data"]["grid"]["session_id"] == SESSION_ID
            async with http.get(url, params=params) as response:  # replayed
                assert response.status == 401
                assert (await response.json())["error_code"] == "NONCE_REPLAYED"
