"""A restart that cannot open a session's account now never ends the session: its orders keep resting
on the exchange. A session of another configuration's default account stays unfinished until the
service runs with that account again; one whose account failed to open (the venue erring) is retried
in the background and resumes once the venue answers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.simulator import FaultConfig, RunningSimulator, SimulatorControl
from server.simulator.accounts import SimAccount
from server.store import SessionStatus
from tests.integration.harness import (
    A_SESSION,
    B_SESSION,
    OTHER_USER,
    OTHER_USER_KEY,
    SYMBOL,
    WITH_ACCOUNTS,
    auth,
    prefix_of,
    register_request,
    rpc_error,
    running_app,
    service_with_venue_faults,
    signed,
    start_request,
    venue_orders,
    wait_for_order,
    wait_until,
)
from tests.integration.test_simulated_venue_reset import serving
from tests.log_capture import captured_logs


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    with captured_logs("INFO") as stream:
        yield stream


def unchanged_fields(grid: grid_pb2.Grid) -> tuple[object, ...]:
    return (
        grid.status,
        grid.updated_ms,
        grid.stopped_ms,
        grid.stop_reason,
        grid.stop_detail,
        [o.client_order_id for o in grid.open_orders],
        grid.position.quantity,
    )


async def test_a_session_of_another_default_account_stays_unfinished_and_resumes_with_that_account(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, log_output: io.StringIO
) -> None:
    other_default = await control.create_account("50000")
    async with running_app(sim, tmp_path) as server:
        started = (await server.stub.StartGrid(start_request())).grid
        prefix = prefix_of(started)
        before = await server.get(A_SESSION)

    # The operator restarts with another account's ORDERLY_* credentials: a misconfiguration, not the
    # user's doing. The session is left as it was, its orders still resting on its account.
    async with running_app(sim, tmp_path, default_account=other_default) as elsewhere:
        service = elsewhere.app.service
        assert service is not None
        assert service.runners == ()
        assert service.held_session_ids == (A_SESSION,)
        grid = await elsewhere.get(A_SESSION)
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert unchanged_fields(grid) == unchanged_fields(before)
        failed = await elsewhere.stub.ListGrids(
            pb.ListGridsRequest(status=grid_pb2.GRID_STATUS_FAILED, user_auth=auth())
        )
        assert list(failed.grids) == []
        summaries = await elsewhere.stub.ListGridSummaries(pb.ListGridSummariesRequest(user_auth=auth()))
        assert [(s.session_id, s.status) for s in summaries.summaries] == [
            (A_SESSION, grid_pb2.GRID_STATUS_RUNNING)
        ]
        code, error = await rpc_error(
            elsewhere.stub.StopGrid(pb.StopGridRequest(session_id=A_SESSION, user_auth=auth()))
        )
        assert (code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "EXCHANGE_UNAVAILABLE")
        assert "not running on this server" in error.message
        assert sim.context.venue.open_orders(other_default.account_id, SYMBOL) == []
        assert len(venue_orders(sim, prefix)) == 5
        assert unchanged_fields(await elsewhere.get(A_SESSION)) == unchanged_fields(before)
    logs = log_output.getvalue()
    assert '"event": "session_not_resumed"' in logs
    assert other_default.account_id.lower() in logs
    assert "session_resume_failed" not in logs

    # Back on the original default account: the session resumes and trades.
    async with running_app(sim, tmp_path) as restored:
        assert restored.app.service is not None
        assert [r.session_id for r in restored.app.service.runners] == [A_SESSION]
        assert (await restored.get(A_SESSION)).status == grid_pb2.GRID_STATUS_RUNNING
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(sim, "SELL", "43000", "the counter sell of the buy at 42000", prefix=prefix)
        assert len(venue_orders(sim, prefix)) == 5


async def test_a_real_venue_session_served_later_on_a_fresh_simulator_is_held_not_retired(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, log_output: io.StringIO
) -> None:
    # The first run trades with the operator's credentials (no simulated venue instance recorded).
    operator_account = await control.create_account("50000")
    async with running_app(sim, tmp_path, default_account=operator_account) as server:
        started = (await server.stub.StartGrid(start_request())).grid
        prefix = prefix_of(started)
    # `serve` without credentials: its own new simulator. The session's orders are on the real
    # venue, not on an earlier simulator: it is not "reset", it waits for the credentials.
    async with serving(tmp_path) as (app, stub):
        assert app.service is not None
        assert app.service.held_session_ids == (A_SESSION,)
        grid = (await stub.GetGrid(pb.GetGridRequest(session_id=A_SESSION, user_auth=auth()))).grid
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert grid.stop_detail == ""
    assert "simulated_venue_reset" not in log_output.getvalue()
    assert len(sim.context.venue.open_orders(operator_account.account_id, SYMBOL)) == 5
    async with running_app(sim, tmp_path, default_account=operator_account) as restored:
        assert restored.app.service is not None
        assert [r.session_id for r in restored.app.service.runners] == [A_SESSION]
        assert {o.client_order_id.split("-")[0] for o in (await restored.get(A_SESSION)).open_orders} == {
            prefix
        }


def account_orders(sim: RunningSimulator, account: SimAccount) -> int:
    return len(sim.context.venue.open_orders(account.account_id, SYMBOL))


async def test_a_session_whose_account_fails_to_open_is_retried_and_resumes_when_the_venue_answers(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, log_output: io.StringIO
) -> None:
    b_account = await control.create_account("50000")
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        await server.stub.RegisterAccount(register_request(b_account))
        request = start_request()
        request.ClearField("user_auth")
        await server.stub.StartGrid(signed("StartGrid", request, OTHER_USER_KEY))
        assert account_orders(sim, b_account) == 5

    async with service_with_venue_faults(sim, tmp_path, control, FaultConfig(http_5xx_rate=1.0)) as service:
        assert service.runners == ()
        assert service.held_session_ids == (B_SESSION,)
        record = await service.store.get_session(B_SESSION)
        assert record is not None
        assert record.status == SessionStatus.RUNNING
        with pytest.raises(DomainError) as refused:
            await service.stop_grid(OTHER_USER, B_SESSION, None)
        assert refused.value.reason == ErrorReason.EXCHANGE_UNAVAILABLE
        assert '"event": "session_resume_deferred"' in log_output.getvalue()
        assert account_orders(sim, b_account) == 5
        # A held session still owns its account and symbol: no second grid may start there.
        with pytest.raises(DomainError) as taken:
            service._check_account_symbol_free((b_account.account_id.lower(), SYMBOL))
        assert taken.value.reason == ErrorReason.ACCOUNT_SYMBOL_IN_USE
        assert B_SESSION in taken.value.message

        await control.set_faults(FaultConfig())  # the venue answers again

        async def resumed() -> bool:
            return [r.session_id for r in service.runners] == [B_SESSION] and not service.held_session_ids

        await wait_until(resumed, "the deferred session to resume")
        await control.set_price(SYMBOL, "41950")
        await wait_for_order(
            sim,
            "SELL",
            "43000",
            "B's counter sell on its own account",
            orders=lambda: sim.context.venue.open_orders(b_account.account_id, SYMBOL),
        )
        view = await service.get_grid(OTHER_USER, B_SESSION)
        assert view.record.status == SessionStatus.RUNNING
    assert "session_resume_failed" not in log_output.getvalue()
