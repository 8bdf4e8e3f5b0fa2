"""Signed calls through the real REST shim: the client signs the proto message the shim builds
(enum and field names expanded, path and query parameters bound), so REST and gRPC share one
signature format, the legacy flat auth form included."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from orderly_grid import signing
from orderly_grid.v1 import auth_pb2
from orderly_grid.v1 import grid_service_pb2 as pb
from orderly_grid.v1 import grid_service_pb2_grpc as pb_grpc

from server.auth import RateLimit, RateLimitPolicy, build_auth
from server.grpc_server import GrpcServer
from server.metrics import ServiceMetrics
from server.store import SqliteStore
from tests.auth.conftest import ALICE, ALICE_KEY, DOMAIN, Clock, start_request
from tests.auth.test_gate import GateServicer
from tests.rest.stack import rest_in_front_of

SESSION_ID = f"{ALICE.lower()}_PERP_BTC_USDC"


@dataclass
class Rest:
    base_url: str
    http: aiohttp.ClientSession
    clock: Clock

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.request(method, self.base_url + path, **kwargs) as response:
            return response.status, await response.json()


@pytest.fixture
async def rest(store: SqliteStore) -> AsyncIterator[Rest]:
    clock = Clock(int(time.time() * 1000))
    policy = RateLimitPolicy(per_user={"StopGrid": RateLimit(2)}, per_peer={})
    auth = build_auth(store, clock_ms=clock, domain=DOMAIN, policy=policy)
    server = GrpcServer(
        [(GateServicer(auth.gate), pb_grpc.add_GridServiceServicer_to_server)],
        metrics=ServiceMetrics(),
        readiness_interval_s=None,
    )
    async with rest_in_front_of(server) as (base_url, http):
        yield Rest(base_url, http, clock)


def auth_query(auth: auth_pb2.UserAuth) -> dict[str, str]:
    return {
        "user_auth.user_id": auth.user_id,
        "user_auth.signature": auth.signature,
        "user_auth.timestamp": str(auth.timestamp),
        "user_auth.nonce": auth.nonce,
    }


async def test_a_signed_get_with_query_parameters_is_accepted_once(rest: Rest) -> None:
    signed = pb.GetGridRequest(session_id=SESSION_ID)
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", signed, timestamp_ms=rest.clock.now_ms)
    status, body = await rest.call("GET", f"/api/grid/status/{SESSION_ID}", params=auth_query(auth))
    assert (status, body["data"]["grid"]["user_id"]) == (200, ALICE.lower())
    status, body = await rest.call("GET", f"/api/grid/status/{SESSION_ID}", params=auth_query(auth))
    assert (status, body["error_code"]) == (401, "NONCE_REPLAYED")


async def test_a_get_signed_for_another_session_is_refused(rest: Rest) -> None:
    signed = pb.GetGridRequest(session_id=SESSION_ID)
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", signed, timestamp_ms=rest.clock.now_ms)
    status, body = await rest.call(
        "GET", "/api/grid/status/someone_else_PERP_BTC_USDC", params=auth_query(auth)
    )
    assert (status, body["error_code"]) == (401, "INVALID_SIGNATURE")


async def test_a_start_body_with_contract_enum_names_verifies_against_the_proto_digest(rest: Rest) -> None:
    signed = start_request()  # direction DIRECTION_LONG in the proto the shim builds
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "StartGrid", signed, timestamp_ms=rest.clock.now_ms)
    body = {
        "ticker": "BTCUSDT",
        "direction": "LONG",
        "current_price": "42000",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "100",
        "user_auth": {
            "user_id": auth.user_id,
            "signature": auth.signature,
            "timestamp": auth.timestamp,
            "nonce": auth.nonce,
        },
    }
    status, reply = await rest.call("POST", "/api/grid/start", json=body)
    assert (status, reply["data"]["grid"]["user_id"]) == (200, ALICE.lower())
    tampered = {**body, "total_margin": "1000", "user_auth": {**body["user_auth"], "nonce": "other-nonce-1"}}
    status, reply = await rest.call("POST", "/api/grid/start", json=tampered)
    assert (status, reply["error_code"]) == (401, "INVALID_SIGNATURE")


async def test_the_legacy_flat_form_carries_a_v1_signature_and_the_user_limit_answers_429(rest: Rest) -> None:
    for attempt in range(3):
        signed = pb.StopGridRequest(session_id=SESSION_ID)
        auth = signing.sign_request(ALICE_KEY, DOMAIN, "StopGrid", signed, timestamp_ms=rest.clock.now_ms)
        flat = {
            "session_id": SESSION_ID,
            "user_id": auth.user_id,
            "user_sig": auth.signature,
            "timestamp": auth.timestamp,
            "nonce": auth.nonce,
        }
        status, reply = await rest.call("POST", "/api/grid/stop", json=flat)
        if attempt < 2:
            assert (status, reply["data"]["grid"]["user_id"]) == (200, ALICE.lower())
    assert (status, reply["error_code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert 0 < reply["details"]["retry_after_ms"] <= 60_000
