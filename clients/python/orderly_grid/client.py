"""`GridClient`: the typed async client of the orderly-grid GridService.

Every call that acts for a user is signed with the wallet key (see `orderly_grid.signing`), every
unary call has a deadline, idempotent reads are retried on UNAVAILABLE / DEADLINE_EXCEEDED (see
`orderly_grid.retry` for why writes never are), and failures raise the `GridError` subclass of the
server's ErrorInfo reason. Responses are the generated protobuf messages (typed by their .pyi).

    async with GridClient("localhost:50051", wallet=load_wallet()) as client:
        grid = await client.start_grid(GridParams(ticker="BTCUSDT", ...))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
from eth_account.signers.local import LocalAccount
from google.protobuf.message import Message

from orderly_grid import params as p
from orderly_grid.errors import GridError, from_rpc_error
from orderly_grid.fills import FillStream, WatchCall
from orderly_grid.retry import RETRYABLE_CODES, Backoff
from orderly_grid.signing import DEFAULT_DOMAIN, sign_request
from orderly_grid.v1 import grid_pb2, grid_service_pb2, grid_service_pb2_grpc
from orderly_grid.wallet import Wallet, as_wallet

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT_S = 10.0
# StartGrid and StopGrid place or cancel every order of a grid (up to 200 lines) before answering.
DEFAULT_WRITE_TIMEOUT_S = 60.0
# A backtest of the largest input the server takes runs for well under a second; the deadline
# leaves room for a loaded server (and for the upload of up to 3 MB of CSV).
DEFAULT_BACKTEST_TIMEOUT_S = 120.0
BacktestProgress = Callable[[int, int], None]
"""Called with (points done, points in all) as the server reports progress."""
# Reconnect quickly after a server restart; grpc's defaults (1 s growing to 120 s) would make a
# resuming fill stream wait long after the server is back.
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
)

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


class MissingWalletError(RuntimeError):
    """A call that acts for a user was made on a client without a wallet key."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class GridClient:
    """Async client; use as `async with GridClient(...) as client:` or call `close()`.

    `wallet` signs user calls (a `Wallet`, an eth-account `LocalAccount` or a hex key); without one
    only `preview_grid` works. `timeout_s` is the deadline of each read (each attempt) and
    `write_timeout_s` that of StartGrid, StopGrid and RegisterAccount; `retries` is how many times
    an idempotent read is retried. `channel` lets the caller bring a
    configured grpc.aio channel (TLS, interceptors); it is then the caller's to close.
    """

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
        channel: grpc.aio.Channel | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if timeout_s <= 0 or write_timeout_s <= 0:
            raise ValueError("timeout_s and write_timeout_s: must be > 0")
        if retries < 0:
            raise ValueError("retries: must be >= 0")
        self.target = target
        self.wallet = as_wallet(wallet) if wallet is not None else None
        self.domain = domain
        self.timeout_s = timeout_s
        self.write_timeout_s = write_timeout_s
        self.retries = retries
        self.backoff = backoff or Backoff()
        self._credentials = credentials
        self._channel_options = (*DEFAULT_CHANNEL_OPTIONS, *channel_options)
        self._channel = channel
        self._own_channel = channel is None
        self._stub: grid_service_pb2_grpc.GridServiceAsyncStub | None = None
        self._clock_ms = clock_ms

    async def __aenter__(self) -> GridClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._channel is not None and self._own_channel:
            await self._channel.close(None)
            self._channel = None
        self._stub = None

    @property
    def user_id(self) -> str:
        """The signer's address (checksummed); the server keys sessions by its lower-case form."""
        return self._require_wallet().address

    def session_id(self, ticker: str) -> str:
        """The id the server gives this user's session on `ticker`: `<user_id>_<ticker>`."""
        return f"{self.user_id.lower()}_{ticker}"

    # -- GridService -----------------------------------------------------------------------------

    async def preview_grid(
        self, params: p.GridParams, *, timeout_s: float | None = None
    ) -> grid_service_pb2.PreviewGridResponse:
        """Lines, planned orders, margin and profit per grid of `params`, without starting anything."""
        request = grid_service_pb2.PreviewGridRequest(config=params.to_config())
        return await self._unary(
            self._grid().PreviewGrid, request, None, idempotent=True, timeout_s=timeout_s
        )

    async def start_grid(self, params: p.GridParams, *, timeout_s: float | None = None) -> grid_pb2.Grid:
        """Start a session; returns once its initial orders are placed. Never retried."""
        request = params.to_start_request()
        response = await self._unary(
            self._grid().StartGrid, request, "StartGrid", idempotent=False, timeout_s=timeout_s
        )
        return response.grid

    async def stop_grid(
        self, session_id: str, *, close_position: bool | None = None, timeout_s: float | None = None
    ) -> grid_pb2.Grid:
        """Stop a session (cancel its orders; close its position if asked). Never retried."""
        request = grid_service_pb2.StopGridRequest(session_id=session_id)
        if close_position is not None:
            request.close_position = close_position
        response = await self._unary(
            self._grid().StopGrid, request, "StopGrid", idempotent=False, timeout_s=timeout_s
        )
        return response.grid

    async def get_grid(self, session_id: str, *, timeout_s: float | None = None) -> grid_pb2.Grid:
        request = grid_service_pb2.GetGridRequest(session_id=session_id)
        response = await self._unary(
            self._grid().GetGrid, request, "GetGrid", idempotent=True, timeout_s=timeout_s
        )
        return response.grid

    async def list_grids(
        self,
        *,
        status: p.GridStatusLike | None = None,
        page_size: int = 0,
        page_token: str = "",
        user_id: str = "",
        timeout_s: float | None = None,
    ) -> grid_service_pb2.ListGridsResponse:
        """One page of the signer's sessions, newest first; `next_page_token` is empty on the last."""
        request = grid_service_pb2.ListGridsRequest(
            user_id=user_id, status=p.grid_status(status), page_size=page_size, page_token=page_token
        )
        return await self._unary(
            self._grid().ListGrids, request, "ListGrids", idempotent=True, timeout_s=timeout_s
        )

    async def iter_grids(
        self, *, status: p.GridStatusLike | None = None, page_size: int = 0
    ) -> AsyncIterator[grid_pb2.Grid]:
        """Every matching session over all pages."""
        token = ""
        while True:
            page = await self.list_grids(status=status, page_size=page_size, page_token=token)
            for grid in page.grids:
                yield grid
            token = page.next_page_token
            if not token:
                return

    async def list_summaries(
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
        """One page of summaries of sessions created in [start_time_ms, end_time_ms) (0 = open), with
        `totals` over every match."""
        request = grid_service_pb2.ListGridSummariesRequest(
            user_id=user_id,
            status=p.grid_status(status),
            start_time=start_time_ms,
            end_time=end_time_ms,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._unary(
            self._grid().ListGridSummaries, request, "ListGridSummaries", idempotent=True, timeout_s=timeout_s
        )

    async def get_grid_history(
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
        """One page of a run's PnL history (the session's latest run when `run_id` is empty)."""
        request = grid_service_pb2.GetGridHistoryRequest(
            session_id=session_id,
            run_id=run_id,
            start_time_ms=start_time_ms,
            end_time_ms=end_time_ms,
            resolution_ms=resolution_ms,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._unary(
            self._grid().GetGridHistory, request, "GetGridHistory", idempotent=True, timeout_s=timeout_s
        )

    async def iter_grid_history(
        self, session_id: str, *, run_id: str = "", resolution_ms: int = 0, start_time_ms: int = 0
    ) -> AsyncIterator[grid_pb2.EquityPoint]:
        """Every point of the run's history over all pages, oldest first."""
        token = ""
        while True:
            page = await self.get_grid_history(
                session_id,
                run_id=run_id,
                resolution_ms=resolution_ms,
                start_time_ms=start_time_ms,
                page_token=token,
            )
            run_id = page.run_id  # every page of the same run, even if the session starts again
            for point in page.points:
                yield point
            token = page.next_page_token
            if not token:
                return

    def watch_fills(
        self,
        session_id: str = "",
        *,
        after_seq: int = 0,
        run_id: str = "",
        max_reconnects: int | None = None,
        on_reconnect: Callable[[GridError | None, int], None] | None = None,
    ) -> FillStream:
        """Fills of one session (or all the signer's sessions when empty) with seq > after_seq: first
        the stored ones, then live ones, resuming automatically after disconnects and restarts. A
        session's watch shows one run: `run_id`, or the session's latest run."""
        wallet = self._require_wallet()

        def open_watch(resume_after: int) -> WatchCall:
            request = grid_service_pb2.WatchFillsRequest(
                session_id=session_id, after_seq=resume_after, run_id=run_id
            )
            self._sign(wallet, "WatchFills", request)
            return self._grid().WatchFills(request)

        return FillStream(
            open_watch,
            after_seq=after_seq,
            backoff=self.backoff,
            max_reconnects=max_reconnects,
            on_reconnect=on_reconnect,
        )

    async def backtest_grid(
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
        """Backtest `params` on `prices_csv` (`timestamp,price` ticks or `timestamp,open,high,low,
        close[,volume]` bars; at most 3 MB and 100,000 rows) with the live engine, on the server.
        Needs no wallet. `on_progress(done, total)` sees each progress message; returns the result.
        Not retried: the call is cheap to repeat but limited per address, so the caller decides."""
        request = grid_service_pb2.BacktestGridRequest(
            config=params.to_config(),
            prices_csv=prices_csv,
            bar_order=grid_service_pb2.BarOrder.ValueType(
                p.enum_value("bar_order", grid_service_pb2.BarOrder.DESCRIPTOR, bar_order)
            ),
            maker_fee_rate=p.decimal_text("maker_fee_rate", maker_fee_rate),
            taker_fee_rate=p.decimal_text("taker_fee_rate", taker_fee_rate),
            funding_rate=p.decimal_text("funding_rate", funding_rate),
            resolution=resolution,
            omit_fills=omit_fills,
        )
        timeout = DEFAULT_BACKTEST_TIMEOUT_S if timeout_s is None else timeout_s
        try:
            async for message in self._grid().BacktestGrid(request, timeout=timeout):
                if message.HasField("result"):
                    return message.result
                if on_progress is not None:
                    on_progress(message.progress.points_done, message.progress.points_total)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        raise GridError(
            grpc.StatusCode.INTERNAL, "INTERNAL", "BacktestGrid: the stream ended without a result"
        )

    async def register_account(
        self, account_id: str, orderly_key: str, orderly_secret: str, *, timeout_s: float | None = None
    ) -> grid_service_pb2.Account:
        """Store the signer's Orderly account credentials with the service. Never retried."""
        request = grid_service_pb2.RegisterAccountRequest(
            account_id=account_id, orderly_key=orderly_key, orderly_secret=orderly_secret
        )
        response = await self._unary(
            self._grid().RegisterAccount, request, "RegisterAccount", idempotent=False, timeout_s=timeout_s
        )
        return response.account

    # -- plumbing --------------------------------------------------------------------------------

    def _grid(self) -> grid_service_pb2_grpc.GridServiceAsyncStub:
        # The channel is made on first use, inside the event loop that will run the calls.
        if self._stub is None:
            if self._channel is None:
                if self._credentials is None:
                    self._channel = grpc.aio.insecure_channel(self.target, options=self._channel_options)
                else:
                    self._channel = grpc.aio.secure_channel(
                        self.target, self._credentials, options=self._channel_options
                    )
            self._stub = grid_service_pb2_grpc.GridServiceStub(self._channel)
        return self._stub

    def _require_wallet(self) -> Wallet:
        if self.wallet is None:
            raise MissingWalletError("this call acts for a user: give the client a wallet key")
        return self.wallet

    def _sign(self, wallet: Wallet, action: str, request: Message) -> None:
        # A fresh timestamp and nonce for every attempt: the server consumes each nonce once.
        sign_request(wallet.private_key, self.domain, action, request, timestamp_ms=self._clock_ms())

    async def _unary(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        action: str | None,
        *,
        idempotent: bool,
        timeout_s: float | None,
    ) -> ResponseT:
        wallet = self._require_wallet() if action is not None else None
        attempts = 1 + (self.retries if idempotent else 0)
        default_timeout = self.timeout_s if idempotent else self.write_timeout_s
        timeout = default_timeout if timeout_s is None else timeout_s
        for attempt in range(attempts):
            if wallet is not None and action is not None:
                self._sign(wallet, action, request)
            try:
                return await method(request, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                if attempt + 1 >= attempts or exc.code() not in RETRYABLE_CODES:
                    raise error from exc
                await asyncio.sleep(self.backoff.delay_s(attempt, error.retry_after_s))
        raise AssertionError("unreachable: the last attempt returns or raises")
