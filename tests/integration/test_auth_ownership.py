"""A user reaches only their own sessions, on every RPC and every REST route: another user's session
answers exactly as a missing one (SESSION_NOT_FOUND), another user's listing is PERMISSION_DENIED."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator import RunningSimulator
from tests.integration.harness import (
    OTHER_USER,
    OTHER_USER_KEY,
    USER,
    auth,
    eth_start_request,
    rpc_error,
    running_app,
    signed,
    start_request,
    venue_orders,
)
from tests.integration.rest_signing import auth_json, auth_query

SESSION_ID = f"{USER}_BTCUSDT"
MISSING_ID = f"{USER}_ETHUSDT"


async def test_another_users_session_is_not_found_on_every_rpc(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        stub = server.stub
        await stub.StartGrid(start_request())
        other = auth(OTHER_USER)
        calls = {
            "GetGrid": lambda sid: stub.GetGrid(
                pb.GetGridRequest(session_id=sid, user_auth=auth(OTHER_USER))
            ),
            "StopGrid": lambda sid: stub.StopGrid(
                pb.StopGridRequest(session_id=sid, close_position=True, user_auth=auth(OTHER_USER))
            ),
        }
        for name, call in calls.items():
            theirs_code, theirs = await rpc_error(call(SESSION_ID))
            missing_code, missing = await rpc_error(call(MISSING_ID))
            assert (theirs_code, theirs.reason) == (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"), name
            # Same answer as for a session that does not exist (only the id differs).
            assert theirs.message.replace(SESSION_ID, "<id>") == missing.message.replace(MISSING_ID, "<id>")
            assert missing_code == theirs_code

        watch = server.watch(SESSION_ID, user_id=OTHER_USER)
        await watch.wait_for(lambda w: w.error is not None, "the refusal of another user's stream")
        assert watch.error is not None
        assert watch.error.code() == grpc.StatusCode.NOT_FOUND
        assert watch.messages == []

        for listing in (
            stub.ListGrids(pb.ListGridsRequest(user_id=USER, user_auth=other)),
            stub.ListGridSummaries(pb.ListGridSummariesRequest(user_id=USER, user_auth=auth(OTHER_USER))),
        ):
            code, error = await rpc_error(listing)
            assert (code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
            assert [v.field for v in error.field_violations] == ["user_id"]
        # Their own (empty) listings, and the owner's session untouched.
        own = await stub.ListGrids(pb.ListGridsRequest(user_auth=auth(OTHER_USER)))
        assert list(own.grids) == []
        assert len(venue_orders(sim)) == 5
        mine = await server.get(SESSION_ID)
        assert mine.status == grid_pb2.GRID_STATUS_RUNNING


async def test_another_users_session_is_not_found_on_every_rest_route(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path, with_rest=True) as server, aiohttp.ClientSession() as http:
        base = server.app.rest_url
        await server.stub.StartGrid(start_request())

        async def call(method: str, path: str, **kwargs: object) -> tuple[int, dict[str, object]]:
            async with http.request(method, base + path, **kwargs) as response:  # type: ignore[arg-type]
                return response.status, await response.json()

        status_query = auth_query("GetGrid", pb.GetGridRequest(session_id=SESSION_ID), OTHER_USER_KEY)
        status, body = await call("GET", f"/api/grid/status/{SESSION_ID}", params=status_query)
        assert (status, body["error_code"]) == (404, "SESSION_NOT_FOUND")

        stop = pb.StopGridRequest(session_id=SESSION_ID, close_position=True)
        stop_body = {
            "session_id": SESSION_ID,
            "close_position": True,
            "user_auth": auth_json("StopGrid", stop, OTHER_USER_KEY),
        }
        status, body = await call("POST", "/api/grid/stop", json=stop_body)
        assert (status, body["error_code"]) == (404, "SESSION_NOT_FOUND")

        fills_query = auth_query("WatchFills", pb.WatchFillsRequest(session_id=SESSION_ID), OTHER_USER_KEY)
        status, body = await call("GET", f"/api/grid/fills/{SESSION_ID}", params=fills_query)
        assert (status, body["error_code"]) == (404, "SESSION_NOT_FOUND")

        sessions_query = auth_query("ListGrids", pb.ListGridsRequest(user_id=USER), OTHER_USER_KEY)
        status, body = await call("GET", "/api/grid/sessions", params={**sessions_query, "user_id": USER})
        assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")

        summary_query = auth_query(
            "ListGridSummaries", pb.ListGridSummariesRequest(user_id=USER), OTHER_USER_KEY
        )
        status, body = await call("GET", "/api/grid/summary", params={**summary_query, "user_id": USER})
        assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")

        # Unsigned reads are refused too.
        status, body = await call("GET", f"/api/grid/status/{SESSION_ID}")
        assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
        status, body = await call("GET", "/api/grid/sessions")
        assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")

        assert len(venue_orders(sim)) == 5
        own_query = auth_query("GetGrid", pb.GetGridRequest(session_id=SESSION_ID))
        status, body = await call("GET", f"/api/grid/status/{SESSION_ID}", params=own_query)
        assert status == 200
        assert body["data"]["grid"]["status"] == "RUNNING"  # type: ignore[index]


async def test_a_signed_session_listing_names_only_the_signers_sessions(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        other_start = eth_start_request()
        other_start.ClearField("user_auth")
        await server.stub.StartGrid(signed("StartGrid", other_start, OTHER_USER_KEY))
        mine = await server.stub.ListGrids(pb.ListGridsRequest(user_auth=auth()))
        assert [grid.user_id for grid in mine.grids] == [USER]
        theirs = await server.stub.ListGridSummaries(pb.ListGridSummariesRequest(user_auth=auth(OTHER_USER)))
        assert [s.user_id for s in theirs.summaries] == [OTHER_USER]
        assert theirs.totals.session_count == 1
