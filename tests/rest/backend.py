"""A tiny deterministic GridService, the test double of the backend for the REST translation tests.

It echoes what it was sent, so a test can see exactly which request message the shim built, and it
fails on fixed ids, so a test can see how errors cross the shim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from orderly_grid.v1 import grid_pb2, grid_service_pb2_grpc
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason

KNOWN_SESSION = "0xabc_BTCUSDT"
CONFIG_FIELDS = [f.name for f in grid_pb2.GridConfig.DESCRIPTOR.fields]


def _not_found(session_id: str) -> DomainError:
    return DomainError(
        ErrorReason.SESSION_NOT_FOUND, f"no session {session_id}", metadata={"session_id": session_id}
    )


class EchoGridService(grid_service_pb2_grpc.GridServiceServicer):
    def __init__(self) -> None:
        self.requests: dict[str, Any] = {}
        self.metadata: dict[str, str] = {}
        self.metadata_items: list[tuple[str, str]] = []  # every entry, repeated keys included
        self.stream_cancelled = asyncio.Event()
        self.stream_held = asyncio.Event()
        self._never = asyncio.Event()

    async def StartGrid(self, request: pb.StartGridRequest, context: Any) -> pb.StartGridResponse:
        self.requests["StartGrid"] = request
        config = grid_pb2.GridConfig()
        for name in CONFIG_FIELDS:
            setattr(config, name, getattr(request, name))
        grid = grid_pb2.Grid(
            session_id=f"{request.user_auth.user_id}_{request.ticker}",
            user_id=request.user_auth.user_id,
            symbol=request.ticker,
            status=grid_pb2.GRID_STATUS_RUNNING,
            config=config,
            created_ms=1_767_225_600_000,
        )
        return pb.StartGridResponse(grid=grid)

    async def StopGrid(self, request: pb.StopGridRequest, context: Any) -> pb.StopGridResponse:
        self.requests["StopGrid"] = request
        if request.session_id != KNOWN_SESSION:
            raise _not_found(request.session_id)
        return pb.StopGridResponse(
            grid=grid_pb2.Grid(
                session_id=request.session_id,
                status=grid_pb2.GRID_STATUS_STOPPED,
                stop_reason=grid_pb2.STOP_REASON_MANUAL,
            )
        )

    async def GetGrid(self, request: pb.GetGridRequest, context: Any) -> pb.GetGridResponse:
        self.requests["GetGrid"] = request
        self.metadata_items = [(k, v) for k, v in context.invocation_metadata() if isinstance(v, str)]
        self.metadata = dict(self.metadata_items)
        if request.session_id != KNOWN_SESSION:
            raise _not_found(request.session_id)
        return pb.GetGridResponse(
            grid=grid_pb2.Grid(
                session_id=request.session_id,
                user_id=request.user_auth.user_id,
                status=grid_pb2.GRID_STATUS_RUNNING,
            )
        )

    async def ListGrids(self, request: pb.ListGridsRequest, context: Any) -> pb.ListGridsResponse:
        self.requests["ListGrids"] = request
        grid = grid_pb2.Grid(user_id=request.user_id, status=request.status)
        return pb.ListGridsResponse(grids=[grid], next_page_token=f"after-{request.page_size}")

    async def ListGridSummaries(
        self, request: pb.ListGridSummariesRequest, context: Any
    ) -> pb.ListGridSummariesResponse:
        self.requests["ListGridSummaries"] = request
        summary = grid_pb2.GridSummary(
            user_id=request.user_id, status=request.status, created_ms=request.start_time
        )
        return pb.ListGridSummariesResponse(
            summaries=[summary], totals=grid_pb2.SummaryTotals(session_count=1)
        )

    async def PreviewGrid(self, request: pb.PreviewGridRequest, context: Any) -> pb.PreviewGridResponse:
        self.requests["PreviewGrid"] = request
        config = request.config
        return pb.PreviewGridResponse(
            symbol=config.ticker,
            lines=[config.lower_bound, config.upper_bound],
            orders=[grid_pb2.PlannedOrder(cell_index=0, side=grid_pb2.SIDE_BUY, price=config.lower_bound)],
            fee_rate="0.0002",
        )

    async def WatchFills(
        self, request: pb.WatchFillsRequest, context: Any
    ) -> AsyncIterator[pb.WatchFillsResponse]:
        self.requests["WatchFills"] = request
        if request.session_id == "fail-early":
            raise _not_found(request.session_id)
        first = request.after_seq + 1
        if request.session_id == "hold":
            yield pb.WatchFillsResponse(fill=_fill(first, request.session_id))
            self.stream_held.set()
            try:
                await self._never.wait()
            except asyncio.CancelledError:
                self.stream_cancelled.set()
                raise
        for seq in range(first, first + 2):
            yield pb.WatchFillsResponse(fill=_fill(seq, request.session_id))
        if request.session_id == "fail-late":
            raise DomainError(ErrorReason.FILLS_NOT_RETAINED, "older fills were dropped")
        yield pb.WatchFillsResponse(replay_complete=pb.ReplayComplete(last_seq=first + 1))

    async def RegisterAccount(
        self, request: pb.RegisterAccountRequest, context: Any
    ) -> pb.RegisterAccountResponse:
        self.requests["RegisterAccount"] = request
        account = pb.Account(
            user_id=request.user_auth.user_id, account_id=request.account_id, orderly_key=request.orderly_key
        )
        return pb.RegisterAccountResponse(account=account)


def _fill(seq: int, session_id: str) -> grid_pb2.Fill:
    return grid_pb2.Fill(
        seq=seq,
        session_id=session_id,
        side=grid_pb2.SIDE_SELL,
        price="65000.5",
        quantity="0.001",
        cell_index=seq % 3,
        timestamp_ms=1_767_225_600_000 + seq,
    )
