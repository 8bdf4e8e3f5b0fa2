"""Which calls the SDK retries: idempotent reads on UNAVAILABLE (each attempt signed afresh), never
writes. Attempts are counted by a client interceptor on a real channel to the real service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from orderly_grid.client import DEFAULT_CHANNEL_OPTIONS, GridClient
from orderly_grid.errors import ServiceUnavailable
from orderly_grid.params import GridParams
from orderly_grid.retry import Backoff
from orderly_grid.wallet import Wallet

from tests.clients.service import LoopbackService

FAST = Backoff(initial_s=0.01, max_s=0.05)
BTC = GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")


class AttemptRecorder(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Records (method, nonce) of every attempt; runs `after_first_failure` once, when one fails."""

    def __init__(self, after_first_failure: Callable[[], Awaitable[None]] | None = None) -> None:
        self.attempts: list[tuple[str, str]] = []
        self._after_first_failure = after_first_failure

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        nonce = request.user_auth.nonce if request.DESCRIPTOR.fields_by_name.get("user_auth") else ""
        self.attempts.append((method.rsplit("/", 1)[-1], nonce))
        call = await continuation(details, request)
        if self._after_first_failure is not None:
            try:
                await call
            except grpc.aio.AioRpcError:
                hook, self._after_first_failure = self._after_first_failure, None
                await hook()
        return call


async def test_reads_are_retried_with_fresh_nonces_and_writes_are_not(
    service: LoopbackService, wallet: Wallet
) -> None:
    await service.stop()  # nothing listens on the port: every attempt is UNAVAILABLE
    recorder = AttemptRecorder()
    channel = grpc.aio.insecure_channel(service.target, interceptors=[recorder])
    try:
        client = GridClient(channel=channel, wallet=wallet, retries=2, backoff=FAST, timeout_s=2)
        with pytest.raises(ServiceUnavailable):
            await client.get_grid(client.session_id("BTCUSDT"))
        assert [m for m, _ in recorder.attempts] == ["GetGrid"] * 3
        assert len({nonce for _, nonce in recorder.attempts}) == 3

        recorder.attempts.clear()
        with pytest.raises(ServiceUnavailable):
            await client.start_grid(BTC)
        with pytest.raises(ServiceUnavailable):
            await client.stop_grid(client.session_id("BTCUSDT"))
        assert [m for m, _ in recorder.attempts] == ["StartGrid", "StopGrid"]
    finally:
        await channel.close()


async def test_a_read_succeeds_when_the_server_is_back_for_the_retry(
    service: LoopbackService, wallet: Wallet
) -> None:
    async with GridClient(service.target, wallet=wallet) as setup:
        session_id = (await setup.start_grid(BTC)).session_id
    await service.stop()
    recorder = AttemptRecorder(after_first_failure=service.start)  # same port, same store
    channel = grpc.aio.insecure_channel(
        service.target, interceptors=[recorder], options=DEFAULT_CHANNEL_OPTIONS
    )
    try:
        # The default backoff spans the channel's reconnect delay (100 ms after one failure).
        client = GridClient(channel=channel, wallet=wallet, retries=5, timeout_s=5)
        grid = await client.get_grid(session_id)
    finally:
        await channel.close()
    assert grid.session_id == session_id
    assert len(recorder.attempts) >= 2
    assert recorder.attempts[0][0] == "GetGrid"
