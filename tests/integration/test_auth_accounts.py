"""Per-user Orderly accounts over the real service: RegisterAccount stores a user's credentials, that
user's sessions trade on their own (simulated) venue account, a session stays on the account it
started on, and the secret appears in no response and no log line."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator import RunningSimulator, SimulatorControl
from server.simulator.accounts import SimAccount
from server.simulator.orders import Order
from tests.integration.harness import (
    A_SESSION,
    B_SESSION,
    OTHER_USER,
    OTHER_USER_KEY,
    SYMBOL,
    WITH_ACCOUNTS,
    auth,
    register_request,
    rpc_error,
    running_app,
    signed,
    start_request,
    venue_orders,
    wait_for_order,
)
from tests.integration.rest_signing import auth_json
from tests.log_capture import captured_logs


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every log line of the test, DEBUG included (order placements log at DEBUG)."""
    with captured_logs("DEBUG") as stream:
        yield stream


def b_start() -> pb.StartGridRequest:
    request = start_request()
    request.ClearField("user_auth")
    return signed("StartGrid", request, OTHER_USER_KEY)  # type: ignore[return-value]


def account_orders(sim: RunningSimulator, account: SimAccount) -> list[Order]:
    return sim.context.venue.open_orders(account.account_id, SYMBOL)


async def both_accounts_countered(sim: RunningSimulator, b_account: SimAccount) -> None:
    """Both grids bought at 42000, each on its own account: wait for each one's counter sell."""
    await wait_for_order(
        sim,
        "SELL",
        "43000",
        "each account's counter sell at 43000",
        orders=lambda: account_orders(sim, b_account) + venue_orders(sim),
        count=2,
    )


async def test_register_account_without_a_master_key_is_refused(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    account = SimAccount("0x" + "12" * 32, "ed25519:x", "ed25519:y")
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(server.stub.RegisterAccount(register_request(account)))
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCOUNT_REGISTRATION_DISABLED")


async def test_register_account_is_signed_like_every_other_call(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    account = SimAccount("0x" + "12" * 32, "ed25519:x", "ed25519:y")
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        request = register_request(account)
        request.orderly_key = "ed25519:other"  # changed after signing
        code, error = await rpc_error(server.stub.RegisterAccount(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")


async def test_a_registered_users_grid_trades_on_their_account_and_the_secret_never_leaks(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, log_output: io.StringIO
) -> None:
    b_account = await control.create_account("50000")
    secret = b_account.orderly_secret
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS, with_rest=True) as server:
        registered = await server.stub.RegisterAccount(register_request(b_account))
        assert registered.account.user_id == OTHER_USER
        assert registered.account.account_id == b_account.account_id.lower()
        assert registered.account.orderly_key == b_account.orderly_key
        assert secret not in str(registered)
        assert secret.encode() not in registered.SerializeToString()

        b_grid = (await server.stub.StartGrid(b_start())).grid
        assert b_grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert len(account_orders(sim, b_account)) == 5
        assert venue_orders(sim) == [], "B's grid placed orders on the default account"

        a_grid = (await server.stub.StartGrid(start_request())).grid
        assert len(venue_orders(sim)) == 5
        assert len(account_orders(sim, b_account)) == 5
        assert {o.client_order_id.split("-")[0] for o in account_orders(sim, b_account)} != {
            o.client_order_id.split("-")[0] for o in venue_orders(sim)
        }
        assert a_grid.session_id == A_SESSION

        # A fill on B's account reaches B's session (its own private stream and router).
        await control.set_price(SYMBOL, "41950")

        await both_accounts_countered(sim, b_account)
        b_view = await server.get(B_SESSION, OTHER_USER)
        assert Decimal(b_view.position.quantity) > 0
        stopped = await server.stub.StopGrid(
            pb.StopGridRequest(session_id=B_SESSION, close_position=True, user_auth=auth(OTHER_USER))
        )
        assert stopped.grid.status == grid_pb2.GRID_STATUS_STOPPED
        assert account_orders(sim, b_account) == []
        assert len(venue_orders(sim)) == 5, "stopping B's grid touched the default account"

        # Over REST too: the answer carries no secret.
        again = pb.RegisterAccountRequest(
            account_id=b_account.account_id,
            orderly_key=b_account.orderly_key,
            orderly_secret=b_account.orderly_secret,
        )
        body = {
            "account_id": b_account.account_id,
            "orderly_key": b_account.orderly_key,
            "orderly_secret": b_account.orderly_secret,
            "user_auth": auth_json("RegisterAccount", again, OTHER_USER_KEY),
        }
        url = f"{server.app.rest_url}/api/grid/account"
        async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
            text = await response.text()
            assert response.status == 200, text
        assert secret not in text
        assert b_account.orderly_key in text
    logs = log_output.getvalue()
    assert "account_registered" in logs, "the log capture saw nothing"
    assert "order_placed" in logs
    assert secret not in logs
    assert secret.removeprefix("ed25519:") not in logs


async def test_a_session_resumes_after_a_restart_on_the_account_it_started_on(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, log_output: io.StringIO
) -> None:
    b_account = await control.create_account("50000")
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        await server.stub.RegisterAccount(register_request(b_account))
        await server.stub.StartGrid(b_start())
        await server.stub.StartGrid(start_request())
        # Both grids buy at 42000, each on its own account: each account holds one position.
        await control.set_price(SYMBOL, "41950")

        await both_accounts_countered(sim, b_account)
        b_before = await server.get(B_SESSION, OTHER_USER)
        a_before = await server.get(A_SESSION)
        assert Decimal(b_before.position.quantity) > 0
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as restarted:
        b_after = await restarted.get(B_SESSION, OTHER_USER)
        a_after = await restarted.get(A_SESSION)
        assert b_after.status == grid_pb2.GRID_STATUS_RUNNING
        # The reconcile after the restart splits each ACCOUNT's venue position among that account's
        # sessions only: counting A's default-account position against B's would zero B's.
        assert Decimal(b_after.position.quantity) == Decimal(b_before.position.quantity)
        assert Decimal(a_after.position.quantity) == Decimal(a_before.position.quantity)
        logs = log_output.getvalue()
        assert logs.count('"event": "session_resumed"') == 2
        assert "position_mismatch" not in logs
        assert len(account_orders(sim, b_account)) == 5, "the resume re-placed or lost B's orders"
        assert len(venue_orders(sim)) == 5
        await restarted.stub.StopGrid(pb.StopGridRequest(session_id=B_SESSION, user_auth=auth(OTHER_USER)))
        assert account_orders(sim, b_account) == []
        assert len(venue_orders(sim)) == 5, "stopping B's grid touched the default account"


async def test_a_session_whose_account_was_replaced_fails_its_resume_and_the_others_resume(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    first = await control.create_account("50000")
    second = await control.create_account("50000")
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        await server.stub.RegisterAccount(register_request(first))
        await server.stub.StartGrid(b_start())
        await server.stub.StartGrid(start_request())
        # Re-registering does not move the running session: it keeps trading on `first`.
        await server.stub.RegisterAccount(register_request(second))
        grid = await server.get(B_SESSION, OTHER_USER)
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert (len(account_orders(sim, first)), len(account_orders(sim, second))) == (5, 0)
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as restarted:
        # `first`'s credentials are gone: B's session cannot trade anywhere it belongs, so it fails
        # (clearly, with the reason) instead of moving to `second` or stopping the server.
        failed = await restarted.get(B_SESSION, OTHER_USER)
        assert failed.status == grid_pb2.GRID_STATUS_FAILED
        assert failed.stop_reason == grid_pb2.STOP_REASON_ERROR
        assert "no longer has registered" in failed.stop_detail
        assert account_orders(sim, second) == []
        a_grid = await restarted.get(A_SESSION)
        assert a_grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert len(venue_orders(sim)) == 5
        code, error = await rpc_error(
            restarted.stub.StopGrid(pb.StopGridRequest(session_id=B_SESSION, user_auth=auth(OTHER_USER)))
        )
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SESSION_ALREADY_STOPPED")
        finished = await restarted.stub.ListGridSummaries(
            pb.ListGridSummariesRequest(status=grid_pb2.GRID_STATUS_FAILED, user_auth=auth(OTHER_USER))
        )
        assert [s.session_id for s in finished.summaries] == [B_SESSION]


async def test_credentials_the_venue_refuses_are_a_final_error_naming_the_account_not_a_retry(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Found by the fuzzers: an account id the venue does not know, with a valid key, made every
    StartGrid answer a retryable UNAVAILABLE that could never succeed."""
    real = await control.create_account("50000")
    unknown = SimAccount("0x" + "0" * 64, real.orderly_key, real.orderly_secret)
    async with running_app(sim, tmp_path, settings=WITH_ACCOUNTS) as server:
        await server.stub.RegisterAccount(register_request(unknown))
        code, error = await rpc_error(server.stub.StartGrid(b_start()))
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCOUNT_CREDENTIALS_REJECTED")
        assert unknown.account_id in error.message
        assert error.retry_after_ms is None
        assert account_orders(sim, real) == []
