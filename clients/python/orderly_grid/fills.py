"""`FillStream`: WatchFills as an async iterator of fills that survives disconnects.

The server numbers each user's fills with a strictly increasing `seq` and replays, on subscribe,
every stored fill after `after_seq`. So on a lost connection, a server shutdown (UNAVAILABLE), a
cut-off for falling behind (RESOURCE_EXHAUSTED) or an unexpected end of the stream, the stream
subscribes again with `after_seq` = the last seq it yielded, signing a fresh request (nonces are
single-use), and drops anything at or below that seq. The caller sees every fill exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import Protocol

import grpc

from orderly_grid.errors import GridError, from_rpc_error
from orderly_grid.retry import Backoff
from orderly_grid.v1 import grid_pb2, grid_service_pb2

RESUMABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


class WatchCall(Protocol):
    """The part of a grpc.aio unary-stream call the stream uses."""

    def __aiter__(self) -> AsyncIterator[grid_service_pb2.WatchFillsResponse]: ...

    def cancel(self) -> bool: ...


OpenWatch = Callable[[int], WatchCall]
"""Opens one WatchFills call resuming after the given seq (signed afresh by the client)."""


class FillStream:
    """The fills of one session or of all the signer's sessions, in seq order, each exactly once.

    `last_seq` is the seq of the last fill yielded (resume from it in a later process); `live` is
    set while the stream is connected and has replayed the stored fills (every fill after that is
    live); `reconnects` counts resubscriptions. `max_reconnects` consecutive failures without a
    successful resubscription raise the last error (None: keep trying). Close it (or use it as an
    async context manager) to end the call.
    """

    def __init__(
        self,
        open_watch: OpenWatch,
        *,
        after_seq: int = 0,
        backoff: Backoff | None = None,
        max_reconnects: int | None = None,
        on_reconnect: Callable[[GridError | None, int], None] | None = None,
    ) -> None:
        self._open_watch = open_watch
        self._backoff = backoff or Backoff()
        self._max_reconnects = max_reconnects
        self._on_reconnect = on_reconnect
        self.last_seq = after_seq
        self.reconnects = 0
        self.live = asyncio.Event()
        self._events: AsyncGenerator[grid_pb2.Fill, None] = self._run()

    def __aiter__(self) -> FillStream:
        return self

    async def __anext__(self) -> grid_pb2.Fill:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> FillStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[grid_pb2.Fill, None]:
        failures = 0
        while True:
            error: GridError | None = None
            call = self._open_watch(self.last_seq)
            try:
                async for response in call:
                    if response.HasField("replay_complete"):
                        failures = 0
                        self.live.set()
                    elif response.HasField("fill") and response.fill.seq > self.last_seq:
                        failures = 0
                        self.last_seq = response.fill.seq
                        yield response.fill
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                if exc.code() not in RESUMABLE_CODES:
                    raise error from exc
            finally:
                self.live.clear()
                call.cancel()
            # Reached on a resumable error or when the server ended the stream (it never should).
            failures += 1
            if self._max_reconnects is not None and failures > self._max_reconnects:
                if error is not None:
                    raise error
                raise GridError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "the fill stream keeps ending")
            self.reconnects += 1
            if self._on_reconnect is not None:
                self._on_reconnect(error, self.reconnects)
            await asyncio.sleep(
                self._backoff.delay_s(failures - 1, error.retry_after_s if error is not None else None)
            )
