"""`SyncGridClient`: the async `GridClient` for blocking code (scripts, notebooks, Django views).

The async client runs on a private event loop in a daemon thread; each method submits its coroutine
there and waits. One loop for the client's whole life (rather than `asyncio.run` per call) keeps the
grpc.aio channel, which is bound to the loop that made it, usable across calls and lets a fill
stream stay open between `next()` calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

if TYPE_CHECKING:  # eth-account is imported on first use (see orderly_grid.eth)
    from eth_account.signers.local import LocalAccount

from orderly_grid import params as p
from orderly_grid.client import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WRITE_TIMEOUT_S,
    BacktestProgress,
    GridClient,
)
from orderly_grid.fills import FillStream
from orderly_grid.retry import Backoff
from orderly_grid.signing import DEFAULT_DOMAIN
from orderly_grid.v1 import grid_pb2, grid_service_pb2
from orderly_grid.wallet import Wallet

T = TypeVar("T")


def _run_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on `loop` (another thread's) and wait for it. An exception in the waiting
    thread (Ctrl-C lands there as KeyboardInterrupt) cancels the coroutine too."""
    future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


class SyncFillStream:
    """A blocking iterator over a `FillStream`; close it (or use `with`) to end the call."""

    def __init__(self, stream: FillStream, loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self._closed = False

    @property
    def last_seq(self) -> int:
        return self._stream.last_seq

    @property
    def reconnects(self) -> int:
        return self._stream.reconnects

    def __iter__(self) -> SyncFillStream:
        return self

    def __next__(self) -> grid_pb2.Fill:
        if self._closed:
            raise StopIteration
        try:
            return _run_on(self._loop, self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _run_on(self._loop, self._stream.aclose())

    def __enter__(self) -> SyncFillStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SyncGridClient:
    """Blocking twin of `GridClient` (same arguments, same methods, same exceptions)."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        wallet: Wallet | LocalAccount | str | bytes | None = None,
        domain: str = DEFAULT_DOMAIN,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S,
        retries: int = 3,
        backoff: Backoff | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._client = GridClient(
            target,
            wallet=wallet,
            domain=domain,
            timeout_s=timeout_s,
            write_timeout_s=write_timeout_s,
            retries=retries,
            backoff=backoff,
            credentials=credentials,
            channel_options=channel_options,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="orderly-grid-client", daemon=True
        )
        self._thread.start()

    @property
    def client(self) -> GridClient:
        """The async client underneath (its methods must run on this facade's loop)."""
        return self._client

    @property
    def user_id(self) -> str:
        return self._client.user_id

    def session_id(self, ticker: str) -> str:
        return self._client.session_id(ticker)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return _run_on(self._loop, coroutine)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncGridClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def preview_grid(
        self, params: p.GridParams, *, timeout_s: float | None = None
    ) -> grid_service_pb2.PreviewGridResponse:
        return self._run(self._client.preview_grid(params, timeout_s=timeout_s))

    def start_grid(self, params: p.GridParams, *, timeout_s: float | None = None) -> grid_pb2.Grid:
        return self._run(self._client.start_grid(params, timeout_s=timeout_s))

    def stop_grid(
        self, session_id: str, *, close_position: bool | None = None, timeout_s: float | None = None
    ) -> grid_pb2.Grid:
        return self._run(
            self._client.stop_grid(session_id, close_position=close_position, timeout_s=timeout_s)
        )

    def get_grid(self, session_id: str, *, timeout_s: float | None = None) -> grid_pb2.Grid:
        return self._run(self._client.get_grid(session_id, timeout_s=timeout_s))

    def get_grid_history(
        self,
        session_id: str,
        *,
        run_id: str = "",
        start_time_ms: int = 0,
        end_time_ms: int = 0,
        resolution_ms: int = 0,
        page_size: int = 0,
        page_token: str = "",
        timeout_s: float | None = None,
    ) -> grid_service_pb2.GetGridHistoryResponse:
        return self._run(
            self._client.get_grid_history(
                session_id,
                run_id=run_id,
                start_time_ms=start_time_ms,
                end_time_ms=end_time_ms,
                resolution_ms=resolution_ms,
                page_size=page_size,
                page_token=page_token,
                timeout_s=timeout_s,
            )
        )

    def list_grids(
        self,
        *,
        status: p.GridStatusLike | None = None,
        page_size: int = 0,
        page_token: str = "",
        user_id: str = "",
        timeout_s: float | None = None,
    ) -> grid_service_pb2.ListGridsResponse:
        return self._run(
            self._client.list_grids(
                status=status,
                page_size=page_size,
                page_token=page_token,
                user_id=user_id,
                timeout_s=timeout_s,
            )
        )

    def iter_grids(
        self, *, status: p.GridStatusLike | None = None, page_size: int = 0
    ) -> Iterator[grid_pb2.Grid]:
        token = ""
        while True:
            page = self.list_grids(status=status, page_size=page_size, page_token=token)
            yield from page.grids
            token = page.next_page_token
            if not token:
                return

    def list_summaries(
        self,
        *,
        status: p.GridStatusLike | None = None,
        start_time_ms: int = 0,
        end_time_ms: int = 0,
        page_size: int = 0,
        page_token: str = "",
        user_id: str = "",
        timeout_s: float | None = None,
    ) -> grid_service_pb2.ListGridSummariesResponse:
        return self._run(
            self._client.list_summaries(
                status=status,
                start_time_ms=start_time_ms,
                end_time_ms=end_time_ms,
                page_size=page_size,
                page_token=page_token,
                user_id=user_id,
                timeout_s=timeout_s,
            )
        )

    def watch_fills(
        self, session_id: str = "", *, after_seq: int = 0, max_reconnects: int | None = None
    ) -> SyncFillStream:
        async def make() -> FillStream:
            # Made on the loop: the stream's asyncio.Event belongs to it.
            return self._client.watch_fills(session_id, after_seq=after_seq, max_reconnects=max_reconnects)

        return SyncFillStream(self._run(make()), self._loop)

    def backtest_grid(
        self,
        params: p.GridParams,
        prices_csv: str,
        *,
        bar_order: str = "NEAREST",
        maker_fee_rate: p.DecimalLike | None = None,
        taker_fee_rate: p.DecimalLike | None = None,
        funding_rate: p.DecimalLike | None = None,
        resolution: int = 0,
        omit_fills: bool = False,
        on_progress: BacktestProgress | None = None,
        timeout_s: float | None = None,
    ) -> grid_service_pb2.BacktestResult:
        """See `GridClient.backtest_grid`; `on_progress` is called on the client's loop thread."""
        return self._run(
            self._client.backtest_grid(
                params,
                prices_csv,
                bar_order=bar_order,
                maker_fee_rate=maker_fee_rate,
                taker_fee_rate=taker_fee_rate,
                funding_rate=funding_rate,
                resolution=resolution,
                omit_fills=omit_fills,
                on_progress=on_progress,
                timeout_s=timeout_s,
            )
        )

    def register_account(
        self, account_id: str, orderly_key: str, orderly_secret: str, *, timeout_s: float | None = None
    ) -> grid_service_pb2.Account:
        return self._run(
            self._client.register_account(account_id, orderly_key, orderly_secret, timeout_s=timeout_s)
        )
