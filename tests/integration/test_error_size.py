"""An error that echoes a long input keeps its own status: gRPC caps the metadata a status travels in
(8 KiB soft, 16 KiB hard), and GetGrid with a 20,000-character session id answered
RESOURCE_EXHAUSTED "metadata size exceeds hard limit" (HTTP 429 through the REST shim) instead of
SESSION_NOT_FOUND. Found by the gRPC fuzzer (tests/fuzz); the status is now bounded where it is built
(server.api.status.to_status)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import ErrorReason
from server.api.status import CLIP_MARK, MAX_MESSAGE_BYTES
from server.simulator import RunningSimulator
from tests.integration.harness import auth, rpc_error, running_app
from tests.integration.rest_signing import auth_json, auth_query

# Long enough to pass both limits once echoed; a REST path stays under aiohttp's 8 KiB request line.
LONG_IDS = ["x" * 20_000, "€" * 20_000, "\x00" * 5_000]
LONG_PATH_ID = "y" * 6_000


@pytest.mark.parametrize("session_id", LONG_IDS, ids=["ascii", "multibyte", "nul"])
async def test_a_long_session_id_is_not_found_over_grpc(
    sim: RunningSimulator, tmp_path: Path, session_id: str
) -> None:
    async with running_app(sim, tmp_path) as server:
        calls: list[Any] = [
            server.stub.GetGrid(pb.GetGridRequest(session_id=session_id, user_auth=auth())),
            server.stub.StopGrid(pb.StopGridRequest(session_id=session_id, user_auth=auth())),
        ]
        for call in calls:
            code, error = await rpc_error(call)
            assert (code, error.reason) == (grpc.StatusCode.NOT_FOUND, ErrorReason.SESSION_NOT_FOUND)
            assert len(error.message.encode()) <= MAX_MESSAGE_BYTES
            assert error.message.endswith(CLIP_MARK)


async def test_a_long_session_id_is_a_404_over_rest(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path, with_rest=True) as server, aiohttp.ClientSession() as http:
        base = server.app.rest_url
        get = pb.GetGridRequest(session_id=LONG_PATH_ID)
        async with http.get(
            f"{base}/api/grid/status/{LONG_PATH_ID}", params=auth_query("GetGrid", get)
        ) as response:
            body = await response.json()
            assert (response.status, body["error_code"]) == (404, "SESSION_NOT_FOUND"), body
        session_id = "z" * 20_000
        stop = pb.StopGridRequest(session_id=session_id)
        payload = {"session_id": session_id, "user_auth": auth_json("StopGrid", stop)}
        async with http.post(f"{base}/api/grid/stop", json=payload) as response:
            body = await response.json()
            assert (response.status, body["error_code"]) == (404, "SESSION_NOT_FOUND"), body
            assert len(body["message"].encode()) <= MAX_MESSAGE_BYTES
            assert len(body["details"]["session_id"]) < 1_000
