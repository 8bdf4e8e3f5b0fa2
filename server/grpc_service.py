"""The orderly_grid.v1.GridService servicer: a thin edge over `server.service.GridService`.

Each user-acting method first passes the request through the wallet-signature gate
(server.auth.AuthGate: per-address limits, EIP-191 signature over the action and its parameters,
time window, nonce, per-user limit), then turns the request into plain values, calls the service
layer, and renders the answer. A user reaches only their own sessions; the operator token only lists.
PreviewGrid and BacktestGrid need no signature but are limited per client address; WatchFills
streams are capped per wallet (server.auth.stream_limits).
The calls that need the exchange (StartGrid, StopGrid, PreviewGrid, BacktestGrid) first pass the
exchange gate: while the exchange is not connected it answers EXCHANGE_UNAVAILABLE (UNAVAILABLE,
with a RetryInfo) at once (server.venue_connector).
Errors are DomainErrors; the server's interceptor (server.grpc_server) turns them into rich statuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeAlias

import grpc
from orderly_grid.v1 import grid_service_pb2 as pb
from orderly_grid.v1 import grid_service_pb2_grpc as pb_grpc

from server import grpc_convert as convert
from server.api.errors import DomainError, ErrorReason
from server.auth import AuthComponents, listing_user_filter
from server.auth.session_keys import KEY_ID, SessionKeyRegistry
from server.backtest import proto as backtest_proto
from server.backtest.service import BacktestProgress, BacktestService
from server.service.fill_stream import ReplayComplete
from server.service.grid_service import GridService
from server.store.key_records import SessionKeyRecord

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
ExchangeGate = Callable[[], None]
"""Raises DomainError (EXCHANGE_UNAVAILABLE) while the exchange cannot serve a call; returns if it can."""


def exchange_always_open() -> None:
    """The gate of a service whose exchange is connected before it serves."""


class GridServicer(pb_grpc.GridServiceServicer):
    def __init__(
        self,
        service: GridService,
        auth: AuthComponents,
        *,
        exchange_gate: ExchangeGate = exchange_always_open,
        backtests: BacktestService | None = None,
    ) -> None:
        self._service = service
        # BacktestGrid asks the venue for the symbol's rules only; the runs are its own.
        self._backtests = backtests if backtests is not None else BacktestService(service.exchange)
        self._auth = auth
        self._exchange_gate = exchange_gate
        # Acts for one wallet: the verified lower-case user id (the operator token is refused).
        self._authenticate = auth.gate.authenticate_user_id

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_GridServiceServicer_to_server(self, server)

    async def StartGrid(self, request: pb.StartGridRequest, context: Context) -> pb.StartGridResponse:
        user_id = await self._authenticate("StartGrid", request, context)
        self._exchange_gate()
        view = await self._service.start_grid(user_id, convert.config_input(request))
        return pb.StartGridResponse(grid=convert.grid(view))

    async def StopGrid(self, request: pb.StopGridRequest, context: Context) -> pb.StopGridResponse:
        user_id = await self._authenticate("StopGrid", request, context)
        self._exchange_gate()
        close = request.close_position if request.HasField("close_position") else None
        view = await self._service.stop_grid(user_id, request.session_id, close)
        return pb.StopGridResponse(grid=convert.grid(view))

    async def GetGrid(self, request: pb.GetGridRequest, context: Context) -> pb.GetGridResponse:
        user_id = await self._authenticate("GetGrid", request, context)
        view = await self._service.get_grid(user_id, request.session_id)
        return pb.GetGridResponse(grid=convert.grid(view))

    async def ListGrids(self, request: pb.ListGridsRequest, context: Context) -> pb.ListGridsResponse:
        user = await self._auth.gate.authenticate("ListGrids", request, context)
        views, token = await self._service.list_grids(
            listing_user_filter(user, request.user_id),
            convert.status_filter(request.status),
            request.page_size,
            request.page_token,
        )
        return pb.ListGridsResponse(grids=[convert.grid(view) for view in views], next_page_token=token)

    async def ListGridSummaries(
        self, request: pb.ListGridSummariesRequest, context: Context
    ) -> pb.ListGridSummariesResponse:
        user = await self._auth.gate.authenticate("ListGridSummaries", request, context)
        views, token, totals = await self._service.list_summaries(
            listing_user_filter(user, request.user_id),
            convert.status_filter(request.status),
            request.start_time,
            request.end_time,
            request.page_size,
            request.page_token,
        )
        return pb.ListGridSummariesResponse(
            summaries=[convert.summary(view) for view in views],
            next_page_token=token,
            totals=convert.totals(totals),
        )

    async def PreviewGrid(self, request: pb.PreviewGridRequest, context: Context) -> pb.PreviewGridResponse:
        await self._auth.gate.limit_anonymous("PreviewGrid", context)
        if not request.HasField("config"):
            raise DomainError.invalid_field("config", "is required")
        self._exchange_gate()
        return convert.preview(await self._service.preview_grid(convert.config_input(request.config)))

    async def WatchFills(
        self, request: pb.WatchFillsRequest, context: Context
    ) -> AsyncIterator[pb.WatchFillsResponse]:
        user_id = await self._authenticate("WatchFills", request, context)
        with self._auth.streams.hold("WatchFills", user_id):  # at most N open per wallet
            stream = await self._service.watch_fills(
                user_id, request.session_id, request.after_seq, request.run_id
            )
            try:
                async for item in stream:
                    if isinstance(item, ReplayComplete):
                        yield pb.WatchFillsResponse(replay_complete=pb.ReplayComplete(last_seq=item.last_seq))
                    else:
                        yield pb.WatchFillsResponse(fill=convert.fill(item))
            finally:
                await stream.aclose()  # type: ignore[attr-defined]

    async def GetGridHistory(
        self, request: pb.GetGridHistoryRequest, context: Context
    ) -> pb.GetGridHistoryResponse:
        user_id = await self._authenticate("GetGridHistory", request, context)
        record, page, run_id = await self._service.grid_history(
            user_id,
            request.session_id,
            request.run_id,
            request.start_time_ms,
            request.end_time_ms,
            request.resolution_ms,
            request.page_size,
            request.page_token,
        )
        return pb.GetGridHistoryResponse(
            session_id=record.session_id,
            run_id=run_id,
            symbol=record.symbol,
            points=[convert.equity_point(point) for point in page.points],
            next_page_token=page.next_page_token,
        )

    async def RegisterAccount(
        self, request: pb.RegisterAccountRequest, context: Context
    ) -> pb.RegisterAccountResponse:
        """Store the signer's Orderly account (the secret sealed, never returned nor logged): their
        NEW sessions trade on it; running ones stay on the account they started on."""
        user = await self._auth.gate.authenticate("RegisterAccount", request, context)
        view = await self._auth.accounts.register(
            user, request.account_id, request.orderly_key, request.orderly_secret
        )
        return pb.RegisterAccountResponse(account=convert.account(view))

    async def CreateSessionKey(
        self, request: pb.CreateSessionKeyRequest, context: Context
    ) -> pb.CreateSessionKeyResponse:
        """Store the ed25519 key the wallet authorized (its EIP-712 signature, checked by the gate)."""
        user_id = await self._authenticate("CreateSessionKey", request, context)
        record = await self._session_keys().create(user_id, request)
        return pb.CreateSessionKeyResponse(session_key=session_key_message(record))

    async def RevokeSessionKey(
        self, request: pb.RevokeSessionKeyRequest, context: Context
    ) -> pb.RevokeSessionKeyResponse:
        """Revoke one of the signer's keys, or all of them; this process refuses them at once."""
        user_id = await self._authenticate("RevokeSessionKey", request, context)
        if bool(request.key_id) == request.all:
            raise DomainError.invalid_field("key_id", "give exactly one of key_id and all=true")
        if request.key_id and not KEY_ID.fullmatch(request.key_id):
            raise DomainError.invalid_field("key_id", "must be sk_ followed by 32 lower-case hex digits")
        revoked = await self._session_keys().revoke(user_id, request.key_id or None)
        return pb.RevokeSessionKeyResponse(revoked=revoked)

    def _session_keys(self) -> SessionKeyRegistry:
        if self._auth.session_keys is None:
            raise DomainError(ErrorReason.PERMISSION_DENIED, "session keys are not enabled on this server")
        return self._auth.session_keys

    async def BacktestGrid(
        self, request: pb.BacktestGridRequest, context: Context
    ) -> AsyncIterator[pb.BacktestGridResponse]:
        await self._auth.gate.limit_anonymous("BacktestGrid", context)
        if not request.HasField("config"):
            raise DomainError.invalid_field("config", "is required")
        self._exchange_gate()
        stream = self._backtests.backtest(backtest_proto.backtest_input(request))
        try:
            async for item in stream:
                if isinstance(item, BacktestProgress):
                    yield backtest_proto.progress(item)
                else:
                    yield backtest_proto.outcome(item, omit_fills=request.omit_fills)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


def session_key_message(record: SessionKeyRecord) -> pb.SessionKey:
    return pb.SessionKey(
        key_id=record.key_id,
        user_id=record.user_id,
        public_key=record.public_key,
        scopes=list(record.scopes),
        created_ms=record.created_at_ms,
        expires_at_ms=record.expires_at_ms,
        revoked_ms=record.revoked_at_ms,
    )
