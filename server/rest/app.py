"""The REST shim: an aiohttp application serving the protos' google.api.http routes by calling the
gRPC methods over a grpc.aio channel.

Table-driven: one handler per route of `server.api.http_rules.api_routes()`, built from the RPC's
descriptors, so a new RPC with an http rule is served without code here. The channel may point at
the gRPC server of the same process or at another process (GRID_GRPC_TARGET); the shim holds no
state of its own. Unary calls get a deadline; streams (WatchFills, as NDJSON) run until the gRPC
stream ends or the HTTP client goes away, which cancels the gRPC call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from server.api.errors import DomainError, ErrorReason, FieldViolation
from server.api.forwarding import FORWARDED_FOR_KEY, PROXY_TOKEN_KEY, SHIM_OWNED_METADATA
from server.api.http_rules import API_SERVICES, HttpRoute, routes_for_services
from server.api.status import rest_error_envelope
from server.grpc_server import REQUEST_ID_KEY, request_id_from_metadata
from server.logs import get_logger
from server.rest.binding import build_request
from server.rest.encoding import decode_body
from server.rest.limits import DEFAULT_BODY_TIMEOUT_S, body_limits, expect_handler
from server.rest.openapi import openapi_document
from server.rest.rendering import (
    REQUEST_ID_HEADER,
    dumps,
    error_response,
    http_error_response,
    internal_error_response,
    message_to_json,
    status_of_rpc_error,
    status_response,
    success_response,
)

DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
NDJSON_CONTENT_TYPE = "application/x-ndjson"
HTTP_BODY_TYPE = "google.api.HttpBody"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ResponseStatus = Callable[[Any], int]

# Responses whose HTTP status depends on their content: readiness is a 503 when not ready, so
# orchestrator probes see the failure while the body still says which dependency failed.
RESPONSE_STATUS: dict[str, ResponseStatus] = {
    "orderly_grid.v1.HealthService.GetReadiness": lambda response: 200 if response.ready else 503,
}

STREAM_TASKS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("stream_tasks")
MAX_BODY_BYTES: web.AppKey[int] = web.AppKey("max_body_bytes")
PROXY_TOKEN: web.AppKey[str | None] = web.AppKey("proxy_token")
_METADATA_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _RouteBinding:
    route: HttpRoute
    method: MethodDescriptor
    path: str  # the gRPC method path, "/package.Service/Method"


def _method_index(services: Sequence[ServiceDescriptor]) -> dict[str, MethodDescriptor]:
    return {method.full_name: method for service in services for method in service.methods}


def request_id_of(request: web.Request) -> str:
    return request_id_from_metadata([(REQUEST_ID_KEY, request.headers.get(REQUEST_ID_HEADER, ""))])


def forwarded_metadata(request: web.Request, request_id: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata for the call: the request id, `authorization`, grpc-gateway's
    `Grpc-Metadata-<key>` headers, and the shim's own entries (server.api.forwarding): the address
    it saw connect in `x-forwarded-for` and, when it runs in the gRPC server's process, the secret
    that makes the server believe it. The client cannot set either: its `X-Forwarded-For` header is
    ignored and its `Grpc-Metadata-` headers for those keys are dropped."""
    metadata: list[tuple[str, str]] = [(REQUEST_ID_KEY, request_id)]
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered == "authorization":
            key = lowered
        elif lowered.startswith("grpc-metadata-"):
            key = lowered.removeprefix("grpc-metadata-")
        else:
            continue
        if (
            _METADATA_KEY.fullmatch(key)
            and not key.endswith("-bin")
            and key not in SHIM_OWNED_METADATA
            and value.isascii()
            and value.isprintable()
        ):
            metadata.append((key, value))
    # The connection's address, as the socket reports it (never empty: the server then counts the
    # call as the shim's own rather than as anyone the client might name).
    metadata.append((FORWARDED_FOR_KEY, request.remote or "unknown"))
    token = request.app.get(PROXY_TOKEN)
    if token:
        metadata.append((PROXY_TOKEN_KEY, token))
    return tuple(metadata)


async def _read_body(request: web.Request) -> bytes:
    """The body, decoded by its Content-Encoding (server.rest.encoding; the shim's server leaves
    bodies as sent); a body that is not what its encoding claims (gzip that is not gzip, ...) is a
    400 naming the encoding."""
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # a server that decodes itself, or a broken transfer
        encoding = request.headers.get("Content-Encoding", "")
        if encoding and len(encoding) <= 32 and encoding.isascii() and encoding.isprintable():
            message = f"request body is not valid {encoding} data, as its Content-Encoding says"
        else:
            message = "request body cannot be read: " + type(exc.__cause__ or exc).__name__
        raise DomainError(
            ErrorReason.INVALID_ARGUMENT, message, field_violations=[FieldViolation("body", message)]
        ) from None
    return decode_body(raw, request.headers.get("Content-Encoding", ""), request.app[MAX_BODY_BYTES])


async def _bound_request(binding: _RouteBinding, request: web.Request) -> Message:
    body = await _read_body(request) if binding.route.body else None
    return build_request(
        binding.route, binding.method.input_type, request.match_info, request.query.items(), body
    )


def _render(binding: _RouteBinding, response: Message, request_id: str) -> web.StreamResponse:
    if binding.route.response_body:
        response = getattr(response, binding.route.response_body)
    if response.DESCRIPTOR.full_name == HTTP_BODY_TYPE:
        body: Any = response
        return web.Response(
            body=body.data,
            headers={
                "Content-Type": body.content_type or "application/octet-stream",
                REQUEST_ID_HEADER: request_id,
            },
        )
    status = RESPONSE_STATUS.get(binding.method.full_name, lambda _: 200)(response)
    return success_response(message_to_json(response), request_id, status=status)


def _unary_handler(binding: _RouteBinding, channel: grpc.aio.Channel, deadline_s: float | None) -> Handler:
    call = channel.unary_unary(
        binding.path, request_serializer=_serialize, response_deserializer=_deserializer(binding)
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = request_id_of(request)
        try:
            message = await _bound_request(binding, request)
            response: Message = await call(
                message, timeout=deadline_s, metadata=forwarded_metadata(request, request_id)
            )
        except DomainError as exc:
            return error_response(exc, request_id)
        except grpc.aio.AioRpcError as exc:
            return status_response(status_of_rpc_error(exc), request_id)
        return _render(binding, response, request_id)

    return handle


def _stream_handler(binding: _RouteBinding, channel: grpc.aio.Channel) -> Handler:
    open_stream = channel.unary_stream(
        binding.path, request_serializer=_serialize, response_deserializer=_deserializer(binding)
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = request_id_of(request)
        try:
            message = await _bound_request(binding, request)
        except DomainError as exc:
            return error_response(exc, request_id)
        call = open_stream(message, metadata=forwarded_metadata(request, request_id))
        tasks = request.app[STREAM_TASKS]
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        try:
            return await _relay(call, request, request_id)
        finally:
            call.cancel()  # a no-op when the stream ended; stops the RPC when the client left
            if task is not None:
                tasks.discard(task)

    return handle


async def _relay(call: Any, request: web.Request, request_id: str) -> web.StreamResponse:
    """NDJSON, one message per line. A failure before the first message is an ordinary error
    response (with its HTTP status); after it, the status is already sent, so the failure becomes a
    last line {"error": <envelope>}, as grpc-gateway does."""
    messages = call.__aiter__()
    try:
        first: Message | None = await messages.__anext__()
    except StopAsyncIteration:
        first = None
    except grpc.aio.AioRpcError as exc:
        return status_response(status_of_rpc_error(exc), request_id)
    response = web.StreamResponse(
        headers={"Content-Type": NDJSON_CONTENT_TYPE, REQUEST_ID_HEADER: request_id}
    )
    await response.prepare(request)
    try:
        if first is not None:
            await response.write(_line(message_to_json(first)))
            async for message in messages:
                await response.write(_line(message_to_json(message)))
    except grpc.aio.AioRpcError as exc:
        _, envelope = rest_error_envelope(status_of_rpc_error(exc))
        await response.write(_line({"error": envelope}))
    except ConnectionResetError:
        _log.info("rest_stream_client_gone", request_id=request_id)
        return response
    await response.write_eof()
    return response


def _line(data: dict[str, Any]) -> bytes:
    return (dumps(data) + "\n").encode()


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _deserializer(binding: _RouteBinding) -> Callable[[bytes], Message]:
    """The parser of the RPC's response messages."""
    output: Any = message_factory.GetMessageClass(binding.method.output_type)
    return output.FromString  # type: ignore[no-any-return]


@web.middleware
async def _error_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_error_response(exc, request_id_of(request))
    except Exception:
        _log.exception("rest_handler_failed", path=request.path)
        return internal_error_response(request_id_of(request))


async def _cancel_streams(app: web.Application) -> None:
    """On shutdown, end the open streams (they would otherwise hold the shutdown until timeout)."""
    tasks: set[asyncio.Task[Any]] = app[STREAM_TASKS]
    for task in list(tasks):
        task.cancel()


def build_rest_app(
    channel: grpc.aio.Channel,
    *,
    services: Sequence[ServiceDescriptor] = API_SERVICES,
    deadline_s: float | None = DEFAULT_DEADLINE_S,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float | None = DEFAULT_BODY_TIMEOUT_S,
    proxy_token: str | None = None,
) -> web.Application:
    """The REST application for `services`' http rules, calling them over `channel`. Run it with
    handler cancellation on (as `RestShim` does) so that a client leaving cancels its gRPC call, and
    with `auto_decompress=False` (as `RestShim` does): the app decodes Content-Encoding itself."""
    app = web.Application(
        middlewares=[_error_envelope, body_limits(max_body_bytes, body_timeout_s)],
        client_max_size=max_body_bytes,
    )
    app[PROXY_TOKEN] = proxy_token  # set only when the channel leads to this process's own server
    app[STREAM_TASKS] = set()
    app[MAX_BODY_BYTES] = max_body_bytes
    app.on_shutdown.append(_cancel_streams)
    methods = _method_index(services)
    routes = routes_for_services(services)
    for route in routes:
        method = methods[route.rpc]
        binding = _RouteBinding(route, method, f"/{method.containing_service.full_name}/{method.name}")
        handler = (
            _stream_handler(binding, channel)
            if route.server_streaming
            else _unary_handler(binding, channel, deadline_s)
        )
        app.router.add_route(
            route.method, route.path_template, handler, expect_handler=expect_handler(max_body_bytes)
        )
    document = openapi_document(routes, methods)

    async def openapi(request: web.Request) -> web.StreamResponse:
        return web.json_response(document, dumps=dumps)

    app.router.add_get("/openapi.json", openapi)
    return app
