"""The gRPC server: our servicers plus the standard grpc.health.v1.Health and server reflection, behind
one interceptor that observes every RPC.

The interceptor is the API edge for errors: a servicer raises `DomainError` and the client gets the
rich status (ErrorInfo, BadRequest) in the `grpc-status-details-bin` trailer; any other exception
becomes a bare INTERNAL whose message reveals nothing (the traceback goes to the log). It also counts
RPCs by method and code, times them, and binds `request_id` and `rpc` into the structlog context of
the RPC's task (grpc.aio runs each RPC in a task of its own, so nothing leaks between calls).

Requests whose bytes are not the method's protobuf message never reach a servicer: the interceptor
gives every handler a deserializer that returns a `MalformedRequest` marker instead of raising (grpc
would answer UNKNOWN with the exception's text and log a traceback per call), and the wrapped
handler answers INVALID_ARGUMENT, counts it in `orderly_grid_malformed_requests_total` and logs
`rpc_request_malformed`: one JSON line, at most one per method per second (the line says how many
were not logged since), because such calls need no credentials.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs lack aio
from grpc_reflection.v1alpha import reflection
from orderly_grid.v1 import grid_service_pb2, health_service_pb2, health_service_pb2_grpc

from server.api.errors import DomainError, ErrorReason, code_from_number
from server.api.status import status_for_exception, trailing_metadata
from server.health import HealthService
from server.logs import get_logger
from server.metrics import ServiceMetrics

GRID_SERVICE_NAME: str = grid_service_pb2.DESCRIPTOR.services_by_name["GridService"].full_name
HEALTH_SERVICE_NAME: str = health_service_pb2.DESCRIPTOR.services_by_name["HealthService"].full_name
STANDARD_HEALTH_SERVICE_NAME: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
REFLECTION_SERVICE_NAME: str = reflection.SERVICE_NAME
API_SERVICE_NAMES: tuple[str, ...] = (GRID_SERVICE_NAME, HEALTH_SERVICE_NAME)

REQUEST_ID_KEY = "x-request-id"
DEFAULT_READINESS_INTERVAL_S = 5.0
MALFORMED_LOG_INTERVAL_S = 1.0
MALFORMED_REQUEST_MESSAGE = "the request is not a valid protobuf message of this method"

ServicerRegistration: TypeAlias = (
    "Callable[[grpc.aio.Server], None] | tuple[Any, Callable[[Any, grpc.aio.Server], None]]"
)
"""`lambda server: add_XServicer_to_server(servicer, server)`, or the pair `(servicer, add_fn)`."""

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Behavior: TypeAlias = Callable[[Any, Any], Any]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HANDLER_FACTORIES: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]]], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)
"""Each RPC shape's attribute on a method handler and the grpc function that builds such a handler."""

_log = get_logger(__name__)


def request_id_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The caller's `x-request-id` when it is a short token, else a fresh one (never log raw input)."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _SAFE_REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """What the deserializer hands on in place of a request message it could not parse."""

    error_type: str
    size_bytes: int


def tolerant_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserialize`, returning a MalformedRequest instead of raising on bytes it cannot parse."""
    if deserialize is None:
        return None
    parse = deserialize

    def tolerant(raw: bytes) -> Any:
        try:
            return parse(raw)
        except Exception as exc:  # DecodeError, or anything else the parser raises on bad bytes
            return MalformedRequest(type(exc).__name__, len(raw))

    return tolerant


class _MalformedLog:
    """Logs malformed requests at most once per method per `interval_s`; the next line carries how
    many were left out in between (the metric counts every one)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def record(self, method: str, request: MalformedRequest) -> None:
        now = self._clock()
        last = self._last_logged.get(method)
        if last is not None and now - last < self._interval_s:
            self._suppressed[method] = self._suppressed.get(method, 0) + 1
            return
        self._last_logged[method] = now
        _log.warning(
            "rpc_request_malformed",
            error_type=request.error_type,
            size_bytes=request.size_bytes,
            not_logged_since_last=self._suppressed.pop(method, 0),
        )


class ObservingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Metrics, log context and error translation for every RPC (see the module docstring)."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._malformed_log = _MalformedLog(MALFORMED_LOG_INTERVAL_S)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler: grpc.RpcMethodHandler[Any, Any] | None = await continuation(handler_call_details)
        if handler is None:  # unknown method: grpc answers UNIMPLEMENTED itself
            return handler  # type: ignore[return-value]  # the stubs' signature forgets None
        method = handler_call_details.method
        metadata: Any = handler_call_details.invocation_metadata
        request_id = request_id_from_metadata(metadata)
        for kind, make_handler in _HANDLER_FACTORIES:
            behavior = getattr(handler, kind)
            if behavior is not None:
                checked = self._checked(behavior, method, streaming=handler.request_streaming)
                return make_handler(
                    self._wrap(checked, method, request_id),
                    tolerant_deserializer(handler.request_deserializer),
                    handler.response_serializer,
                )
        return handler

    def _malformed(self, method: str, request: MalformedRequest) -> DomainError:
        self._metrics.malformed_requests.labels(method=method).inc()
        self._malformed_log.record(method, request)
        return DomainError(ErrorReason.INVALID_ARGUMENT, MALFORMED_REQUEST_MESSAGE)

    def _checked(self, behavior: Behavior, method: str, *, streaming: bool) -> Behavior:
        """`behavior` behind a check that raises INVALID_ARGUMENT for a MalformedRequest: before the
        call for a single request, as the servicer reads it for a stream of requests."""
        if streaming:

            async def checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
                async for request in requests:
                    if isinstance(request, MalformedRequest):
                        raise self._malformed(method, request)
                    yield request

            def with_checked_stream(requests: Any, context: Context) -> Any:
                return behavior(checked_stream(requests), context)

            generator = inspect.isasyncgenfunction(behavior)
            return _as_async_generator(with_checked_stream) if generator else with_checked_stream

        if inspect.isasyncgenfunction(behavior):

            async def checked_generator(request: Any, context: Context) -> AsyncIterator[Any]:
                if isinstance(request, MalformedRequest):
                    raise self._malformed(method, request)
                async for response in behavior(request, context):
                    yield response

            return checked_generator

        def checked_call(request: Any, context: Context) -> Any:
            if isinstance(request, MalformedRequest):
                raise self._malformed(method, request)
            return behavior(request, context)

        return checked_call

    def _wrap(self, behavior: Behavior, method: str, request_id: str) -> Behavior:
        if inspect.isasyncgenfunction(behavior):
            return self._wrap_generator(behavior, method, request_id)
        return self._wrap_coroutine(behavior, method, request_id)

    def _wrap_coroutine(self, behavior: Behavior, method: str, request_id: str) -> Behavior:
        async def observed(request: Any, context: Context) -> Any:
            structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
            outcome = _Outcome(self._metrics, method)
            try:
                result = behavior(request, context)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException as exc:
                await _answer_failure(exc, context, outcome)
                raise  # reached for aborts and cancellation; other exceptions were turned into an abort
            outcome.finish(_code_set_by_servicer(context))
            return result

        return observed

    def _wrap_generator(self, behavior: Behavior, method: str, request_id: str) -> Behavior:
        async def observed(request: Any, context: Context) -> AsyncIterator[Any]:
            structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
            outcome = _Outcome(self._metrics, method)
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException as exc:
                await _answer_failure(exc, context, outcome)
                raise
            outcome.finish(_code_set_by_servicer(context))

        return observed


def _as_async_generator(make: Behavior) -> Behavior:
    """An async generator function yielding what the async generator `make(...)` yields (so the
    interceptor still sees a streaming behavior as one)."""

    async def generator(request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in make(request, context):
            yield response

    return generator


class _Outcome:
    """Counts one RPC once, with its code and latency."""

    def __init__(self, metrics: ServiceMetrics, method: str) -> None:
        self._metrics = metrics
        self._method = method
        self._started = time.perf_counter()
        self._finished = False

    def finish(self, code: grpc.StatusCode) -> None:
        if self._finished:
            return
        self._finished = True
        self._metrics.rpc_requests.labels(method=self._method, code=code.name).inc()
        self._metrics.rpc_latency.labels(method=self._method).observe(time.perf_counter() - self._started)


async def _answer_failure(exc: BaseException, context: Context, outcome: _Outcome) -> None:
    """Count a failed RPC; turn an exception that is neither an abort nor a cancellation into an
    abort carrying its status (which raises). Counting comes first: once aborted, the client may
    see the status before this task runs on."""
    if isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
        if not isinstance(exc, DomainError | NotImplementedError):
            _log.error("rpc_failed", error_type=type(exc).__name__, exc_info=exc)
        if isinstance(exc, NotImplementedError):  # what generated base servicers raise
            outcome.finish(grpc.StatusCode.UNIMPLEMENTED)
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
        status = status_for_exception(exc)
        code = code_from_number(status.code)
        outcome.finish(code)
        await context.abort(code, status.message, trailing_metadata(status))
    outcome.finish(_code_of_failure(exc, context))


def _code_set_by_servicer(context: Context) -> grpc.StatusCode:
    code: Any = context.code()
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK


def _code_of_failure(exc: BaseException, context: Context) -> grpc.StatusCode:
    if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted: the code is on the context
        code: Any = context.code()
        return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


def _register(registration: ServicerRegistration, server: grpc.aio.Server) -> None:
    if isinstance(registration, tuple):
        servicer, add = registration
        add(servicer, server)
    else:
        registration(server)


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{port}"


class GrpcServer:
    """A grpc.aio server with our servicers, grpc.health.v1.Health, reflection and the interceptor.

    `health`, when given, is registered as orderly_grid.v1.HealthService and drives the standard
    health status: every readiness evaluation sets the overall status ("") and each of
    `service_names` to SERVING or NOT_SERVING, and a background task re-evaluates readiness every
    `readiness_interval_s` (None: only when GetReadiness is called).
    """

    def __init__(
        self,
        servicers: Sequence[ServicerRegistration],
        *,
        metrics: ServiceMetrics,
        health: HealthService | None = None,
        service_names: Sequence[str] = API_SERVICE_NAMES,
        readiness_interval_s: float | None = DEFAULT_READINESS_INTERVAL_S,
        options: Sequence[tuple[str, Any]] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),  # type: ignore[type-arg]
    ) -> None:
        self._server = grpc.aio.server(
            interceptors=[ObservingInterceptor(metrics), *interceptors], options=list(options)
        )
        for registration in servicers:
            _register(registration, self._server)
        self._health = health
        if health is not None:
            health_service_pb2_grpc.add_HealthServiceServicer_to_server(health, self._server)
            health.add_readiness_listener(self.set_serving)
        self.standard_health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.standard_health, self._server)
        self.service_names: tuple[str, ...] = tuple(service_names)
        reflection.enable_server_reflection(
            [*self.service_names, STANDARD_HEALTH_SERVICE_NAME, REFLECTION_SERVICE_NAME], self._server
        )
        self._readiness_interval_s = readiness_interval_s
        self._readiness_task: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def server(self) -> grpc.aio.Server:
        return self._server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind (port 0 picks a free port) and start serving; returns the bound port."""
        bound = self._server.add_insecure_port(_address(host, port))
        if bound == 0:
            raise OSError(f"gRPC server could not bind {_address(host, port)}")
        await self._server.start()
        self.port = bound
        await self.set_serving(True)
        if self._health is not None and self._readiness_interval_s is not None:
            self._readiness_task = asyncio.create_task(
                self._health.watch_readiness(self._readiness_interval_s), name="grpc-readiness-watch"
            )
        _log.info("grpc_server_started", host=host, port=bound)
        return bound

    async def set_serving(self, serving: bool) -> None:
        """Set the standard health status of the server ("") and of every served API service."""
        status = _SERVING if serving else _NOT_SERVING
        for name in ("", *self.service_names):
            await self.standard_health.set(name, status)

    async def stop(self, grace_s: float | None) -> None:
        """Report NOT_SERVING for good, stop accepting RPCs, and let running ones finish for
        `grace_s` seconds (None: wait for all) before cancelling them."""
        await self.standard_health.enter_graceful_shutdown()
        if self._readiness_task is not None:
            self._readiness_task.cancel()
            await asyncio.gather(self._readiness_task, return_exceptions=True)
            self._readiness_task = None
        await self._server.stop(grace_s)
        _log.info("grpc_server_stopped")

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()
