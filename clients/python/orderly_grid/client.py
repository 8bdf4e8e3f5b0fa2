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
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import grpc
from google.protobuf.message import Message

if TYPE_CHECKING:  # eth-account is imported on first use (see orderly_grid.eth)
    from eth_account.signers.local import LocalAccount

from orderly_grid import params as p
from orderly_grid.errors import GridError, from_rpc_error
from orderly_grid.fills import FillStream, WatchCall
from orderly_grid.retry import RETRYABLE_CODES, Backoff
from orderly_grid.session_keys import (
    ACTION_SCOPES,
    DEFAULT_CHAIN_ID,
    DEFAULT_TTL_MS,
    SCOPE_READ,
    SessionKey,
    authorize_session_key,
    sign_with_session_key,
)
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

# The errors after which an automatic session key is replaced (once) by a new one.
SESSION_KEY_GONE = frozenset({"SESSION_KEY_EXPIRED", "SESSION_KEY_REVOKED", "SESSION_KEY_INVALID"})

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

    `session_key`: a `SessionKey` the wallet authorized (`create_session_key`), used to sign the
    calls in its scopes (the wallet signs the rest); or "auto": the first read creates a read-scope
    key with one wallet signature, and later reads never need the wallet (a key the server reports
    expired, revoked or unknown is replaced once). `chain_id` is the server's GRID_AUTH_CHAIN_ID.
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
        session_key: SessionKey | Literal["auto"] | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
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
        self._auto_session_key = session_key == "auto"
        self.session_key: SessionKey | None = session_key if isinstance(session_key, SessionKey) else None
        self.chain_id = chain_id

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

    async def create_session_key(
        self,
        scopes: Sequence[str] = (SCOPE_READ,),
        *,
        ttl_ms: int = DEFAULT_TTL_MS,
        timeout_s: float | None = None,
    ) -> SessionKey:
        """Generate an ed25519 key, have the wallet authorize it (one EIP-712 signature) for `scopes`
        and `ttl_ms` (at most 7 days), and use it from now on for the calls in its scopes."""
        wallet = self._require_wallet()
        now = self._clock_ms()
        key = SessionKey.generate(wallet.address, scopes, now + ttl_ms)
        request = grid_service_pb2.CreateSessionKeyRequest(
            public_key=key.public_key_hex, scopes=list(key.scopes), expires_at_ms=key.expires_at_ms
        )
        authorize_session_key(
            wallet.private_key, self.domain, request, chain_id=self.chain_id, timestamp_ms=now
        )
        try:
            await self._grid().CreateSessionKey(request, timeout=timeout_s or self.write_timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        self.session_key = key
        return key

    async def revoke_session_key(self, key_id: str | None = None, *, timeout_s: float | None = None) -> int:
        """Revoke one of the wallet's session keys (default: this client's), or all with key_id="*"."""
        chosen = key_id or (self.session_key.key_id if self.session_key else None)
        if chosen is None:
            return 0
        request = (
            grid_service_pb2.RevokeSessionKeyRequest(all=True)
            if chosen == "*"
            else grid_service_pb2.RevokeSessionKeyRequest(key_id=chosen)
        )
        response = await self._unary(
            self._grid().RevokeSessionKey, request, "RevokeSessionKey", idempotent=False, timeout_s=timeout_s
        )
        if self.session_key is not None and chosen in ("*", self.session_key.key_id):
            self.session_key = None
        return response.revoked

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
        now = self._clock_ms()
        key = self.session_key
        if key is not None and key.covers(action, now):
            sign_with_session_key(key, self.domain, action, request, timestamp_ms=now)
        else:
            sign_request(wallet.private_key, self.domain, action, request, timestamp_ms=now)

    async def _ensure_session_key(self, action: str | None) -> None:
        if not self._auto_session_key or action is None or ACTION_SCOPES.get(action) != SCOPE_READ:
            return
        key = self.session_key
        if key is None or not key.covers(action, self._clock_ms()):
            await self.create_session_key((SCOPE_READ,))

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
        await self._ensure_session_key(action)
        replaced_key = False
        attempt = 0
        while True:
            if wallet is not None and action is not None:
                self._sign(wallet, action, request)
            try:
                return await method(request, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                if self._auto_session_key and not replaced_key and error.reason in SESSION_KEY_GONE:
                    replaced_key = True  # e.g. revoked elsewhere or the server's store was reset
                    self.session_key = None
                    await self._ensure_session_key(action)
                    continue
                if attempt + 1 >= attempts or exc.code() not in RETRYABLE_CODES:
                    raise error from exc
                await asyncio.sleep(self.backoff.delay_s(attempt, error.retry_after_s))
                attempt += 1
