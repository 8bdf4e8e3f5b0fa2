"""Every request the SDK sends carries a signature the server's verifier accepts, for the right
action and user, with a nonce that is good exactly once. The requests are captured on their way to
the real service and checked with server.auth.verifier over the real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from orderly_grid.client import GridClient
from orderly_grid.params import GridParams
from orderly_grid.wallet import Wallet

from server.api.errors import DomainError
from server.auth.verifier import AuthVerifier
from server.store import Store, open_store
from tests.clients.service import LoopbackService
from tests.integration.harness import wait_until

BTC = GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")


def _record(sent: list[tuple[str, Message]], details: Any, request: Message) -> None:
    method = details.method.decode() if isinstance(details.method, bytes) else details.method
    copy = type(request)()
    copy.CopyFrom(request)
    sent.append((method.rsplit("/", 1)[-1], copy))


# Two classes: grpc.aio files an interceptor under the first interceptor kind it matches only.
class CaptureUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, sent: list[tuple[str, Message]]) -> None:
        self.sent = sent

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        _record(self.sent, details, request)
        return await continuation(details, request)


class CaptureStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, sent: list[tuple[str, Message]]) -> None:
        self.sent = sent

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        _record(self.sent, details, request)
        return await continuation(details, request)


@pytest.fixture
async def nonce_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(None, tmp_path / "verifier")
    yield store
    await store.close()


async def test_each_signed_call_verifies_once_for_its_action_and_user(
    service: LoopbackService, wallet: Wallet, nonce_store: Store
) -> None:
    sent: list[tuple[str, Message]] = []
    channel = grpc.aio.insecure_channel(
        service.target, interceptors=[CaptureUnary(sent), CaptureStream(sent)]
    )
    try:
        client = GridClient(channel=channel, wallet=wallet)
        grid = await client.start_grid(BTC)
        await client.get_grid(grid.session_id)
        await client.list_grids(status="RUNNING", page_size=10)
        await client.list_summaries(start_time_ms=1)
        stream = client.watch_fills(grid.session_id)
        reading = asyncio.create_task(anext(stream, None))

        async def subscribed() -> bool:
            return stream.live.is_set()

        await wait_until(subscribed, "the WatchFills subscription")
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await stream.aclose()
        await client.stop_grid(grid.session_id, close_position=True)
        await client.preview_grid(BTC)
    finally:
        await channel.close()

    verifier = AuthVerifier(nonce_store, clock_ms=lambda: time.time_ns() // 1_000_000)
    signed = [(action, request) for action, request in sent if action != "PreviewGrid"]
    assert [action for action, _ in signed] == [
        "StartGrid", "GetGrid", "ListGrids", "ListGridSummaries", "WatchFills", "StopGrid",
    ]  # fmt: skip
    for action, request in signed:
        user = await verifier.verify(action, request)
        assert user.user_id == wallet.address.lower()
        with pytest.raises(DomainError) as replayed:
            await verifier.verify(action, request)
        assert replayed.value.reason == "NONCE_REPLAYED"
    # A signature is bound to its action: a GetGrid signature does not authorize a StopGrid.
    _, get_request = signed[1]
    with pytest.raises(DomainError) as wrong_action:
        await verifier.verify("StopGrid", get_request)
    assert wrong_action.value.reason == "INVALID_SIGNATURE"
