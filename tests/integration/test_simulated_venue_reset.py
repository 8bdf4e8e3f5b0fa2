"""`serve` without credentials runs its own simulator, whose state is kept in the data folder: a
restart is the same venue and the grids resume on it. When that state is gone (a NEW simulator), the
sessions of the earlier one cannot resume (their orders and position are gone), so they end FAILED
with a clear reason and their summary, and the user can start again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from orderly_grid.v1 import grid_pb2, grid_service_pb2, grid_service_pb2_grpc

from server.app import Application, simulator_state_path
from server.settings import Settings
from tests.integration.harness import SYMBOL, USER, auth, signing_channel, start_request


@contextlib.asynccontextmanager
async def serving(data_dir: Path) -> AsyncIterator[tuple[Application, grid_service_pb2_grpc.GridServiceStub]]:
    """The app as `serve` runs it without ORDERLY_* credentials: its own in-process simulator."""
    settings = replace(Settings(), grpc_port=0, rest_port=0, data_dir=data_dir, shutdown_grace_s=1.0)
    assert settings.use_simulator
    app = Application(settings, with_rest=False)
    await app.start()
    try:
        async with signing_channel(app.grpc_target) as channel:
            yield app, grid_service_pb2_grpc.GridServiceStub(channel)
    finally:
        await app.stop(grace_s=1.0)


async def test_sessions_of_an_earlier_simulator_end_failed_with_the_reason_and_a_summary(
    tmp_path: Path,
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with serving(tmp_path) as (app, stub):
        started = (await stub.StartGrid(start_request())).grid
        assert started.status == grid_pb2.GRID_STATUS_RUNNING
        state = simulator_state_path(app.settings)
    state.unlink()  # the simulator's state is lost: the next run's venue is a new, empty one

    async with serving(tmp_path) as (app, stub):
        grid = (
            await stub.GetGrid(grid_service_pb2.GetGridRequest(session_id=session_id, user_auth=auth()))
        ).grid
        assert grid.status == grid_pb2.GRID_STATUS_FAILED
        assert grid.stop_reason == grid_pb2.STOP_REASON_ERROR
        assert "simulated venue was reset" in grid.stop_detail
        assert app.service is not None
        assert app.service.runners == ()
        assert app.simulator is not None
        assert app.simulator.context.venue.open_orders(app.simulator.account.account_id, SYMBOL) == []
        summaries = await stub.ListGridSummaries(grid_service_pb2.ListGridSummariesRequest(user_auth=auth()))
        assert [(s.session_id, s.status) for s in summaries.summaries] == [
            (session_id, grid_pb2.GRID_STATUS_FAILED)
        ]

        again = (await stub.StartGrid(start_request())).grid  # the user starts afresh on the new venue
        assert again.status == grid_pb2.GRID_STATUS_RUNNING
        assert len(again.open_orders) == 5


async def test_a_restart_keeps_the_simulated_venue_and_resumes_the_grid_with_its_orders(
    tmp_path: Path,
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with serving(tmp_path) as (app, stub):
        started = (await stub.StartGrid(start_request())).grid
        assert started.status == grid_pb2.GRID_STATUS_RUNNING
        assert app.simulator is not None
        first_instance = app.simulator.instance_id
        account_id = app.simulator.account.account_id
        venue_orders = {
            o.client_order_id for o in app.simulator.context.venue.open_orders(account_id, SYMBOL)
        }
        assert len(venue_orders) == 5

    async with serving(tmp_path) as (app, stub):
        assert app.simulator is not None
        assert app.simulator.restored
        assert app.simulator.instance_id == first_instance
        assert app.simulator.account.account_id == account_id
        grid = (
            await stub.GetGrid(grid_service_pb2.GetGridRequest(session_id=session_id, user_auth=auth()))
        ).grid
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert grid.venue == "simulator"
        assert {o.client_order_id for o in grid.open_orders} == venue_orders
        assert app.service is not None
        assert [r.session_id for r in app.service.runners] == [session_id]
        still_open = app.simulator.context.venue.open_orders(account_id, SYMBOL)
        assert {o.client_order_id for o in still_open} == venue_orders
