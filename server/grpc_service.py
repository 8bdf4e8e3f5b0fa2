"""The orderly_grid.v1.GridService servicer: a thin edge over `server.service.GridService`.

Each method authenticates the caller (the injected `Authenticator`), turns the request into plain
values, calls the service layer, and renders the answer. Errors are DomainErrors; the server's
interceptor (server.grpc_server) turns them into rich statuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import Message
from orderly_grid.v1 import grid_service_pb2 as pb
from orderly_grid.v1 import grid_service_pb2_grpc as pb_grpc

from server import grpc_convert as convert
from server.api.errors import DomainError
from server.service.auth import authenticate
from server.service.fill_stream import ReplayComplete
from server.service.grid_service import GridService

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

Authenticator: TypeAlias = Callable[[str, Message, Any], Awaitable[str]]
"""`(action, request, context) -> user_id` of the verified caller, or DomainError. Issue 6's wallet
signature gate plugs in here (e.g. `lambda a, r, c: gate.authenticate(a, r, c)` -> `.user_id`)."""


async def format_only_authenticator(action: str, request: Message, context: Any) -> str:
    """TEMPORARY: only the format of `user_auth.user_id` is checked (see server.service.auth)."""
    message: Any = request
    present = message.HasField("user_auth")
    return authenticate(convert.user_auth(message.user_auth, present), action, {})


class GridServicer(pb_grpc.GridServiceServicer):
    def __init__(
        self, service: GridService, authenticator: Authenticator = format_only_authenticator
    ) -> None:
        self._service = service
        self._authenticate = authenticator

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_GridServiceServicer_to_server(self, server)

    async def StartGrid(self, request: pb.StartGridRequest, context: Context) -> pb.StartGridResponse:
        user_id = await self._authenticate("StartGrid", request, context)
        view = await self._service.start_grid(user_id, convert.config_input(request))
        return pb.StartGridResponse(grid=convert.grid(view))

    async def StopGrid(self, request: pb.StopGridRequest, context: Context) -> pb.StopGridResponse:
        user_id = await self._authenticate("StopGrid", request, context)
        close = request.close_position if request.HasField("close_position") else None
        view = await self._service.stop_grid(user_id, request.session_id, close)
        return pb.StopGridResponse(grid=convert.grid(view))

    async def GetGrid(self, request: pb.GetGridRequest, context: Context) -> pb.GetGridResponse:
        user_id = await self._authenticate("GetGrid", request, context)
        view = await self._service.get_grid(user_id, request.session_id)
        return pb.GetGridResponse(grid=convert.grid(view))

    async def ListGrids(self, request: pb.ListGridsRequest, context: Context) -> pb.ListGridsResponse:
        user_id = await self._authenticate("ListGrids", request, context)
        views, token = await self._service.list_grids(
            user_id,
            request.user_id,
            convert.status_filter(request.status),
            request.page_size,
            request.page_token,
        )
        return pb.ListGridsResponse(grids=[convert.grid(view) for view in views], next_page_token=token)

    async def ListGridSummaries(
        self, request: pb.ListGridSummariesRequest, context: Context
    ) -> pb.ListGridSummariesResponse:
        user_id = await self._authenticate("ListGridSummaries", request, context)
        views, token, totals = await self._service.list_summaries(
            user_id,
            request.user_id,
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
        if not request.HasField("config"):
            raise DomainError.invalid_field("config", "is required")
        return convert.preview(await self._service.preview_grid(convert.config_input(request.config)))

    async def WatchFills(
        self, request: pb.WatchFillsRequest, context: Context
    ) -> AsyncIterator[pb.WatchFillsResponse]:
        user_id = await self._authenticate("WatchFills", request, context)
        stream = await self._service.watch_fills(user_id, request.session_id, request.after_seq)
        try:
            async for item in stream:
                if isinstance(item, ReplayComplete):
                    yield pb.WatchFillsResponse(replay_complete=pb.ReplayComplete(last_seq=item.last_seq))
                else:
                    yield pb.WatchFillsResponse(fill=convert.fill(item))
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def RegisterAccount(
        self, request: pb.RegisterAccountRequest, context: Context
    ) -> pb.RegisterAccountResponse:
        """Per-user Orderly accounts are issue 6's: this server trades on its one configured account.
        (The interceptor answers NotImplementedError with UNIMPLEMENTED.)"""
        raise NotImplementedError("RegisterAccount")
