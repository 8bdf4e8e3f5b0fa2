"""Calling any method of the real gRPC server with raw bytes, and judging the answer.

The channel has no serializers: the request goes out exactly as drawn (tests/fuzz/messages.py), as a
client in any language could send it. A clean answer is OK or an error status that carries our
google.rpc.ErrorInfo; a finding is INTERNAL, UNKNOWN or DATA_LOSS, or a status without our ErrorInfo
(grpc's own errors: a trailer over the metadata limit, a call that timed out, a dropped connection).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from orderly_grid import signing
from orderly_grid.v1 import grid_service_pb2, health_service_pb2

from server.api.errors import ERROR_DOMAIN
from server.api.status import status_from_trailing_metadata
from tests.fuzz.messages import Metadata, describe
from tests.fuzz.report import REPORT
from tests.integration.harness import DOMAIN

CALL_TIMEOUT_S = 10.0
FORBIDDEN_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})


@dataclass(frozen=True)
class Method:
    service: str  # full name, e.g. orderly_grid.v1.GridService
    name: str
    request_type: type[Message]
    streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def signed(self) -> bool:
        return signing.AUTH_FIELD in self.request_type.DESCRIPTOR.fields_by_name

    def parse(self, payload: bytes) -> Message:
        return self.request_type.FromString(payload)


def _methods() -> tuple[Method, ...]:
    found: list[Method] = []
    for module, service_name in ((grid_service_pb2, "GridService"), (health_service_pb2, "HealthService")):
        service = module.DESCRIPTOR.services_by_name[service_name]
        for method in service.methods:
            request_type = message_factory.GetMessageClass(method.input_type)
            found.append(Method(service.full_name, method.name, request_type, method.server_streaming))
    return tuple(found)


METHODS = _methods()
"""Every GridService and HealthService method."""


def sign_payload(method: Method, payload: bytes, key: str) -> bytes:
    """`payload` with a real `user_auth` signed by `key` for the method, when it parses (else as is:
    bytes that are not a message never reach the signature check)."""
    try:
        message = method.parse(payload)
    except Exception:
        return payload
    signing.sign_request(key, DOMAIN, method.name, message, timestamp_ms=time.time_ns() // 1_000_000)
    return message.SerializeToString()


def without_auth(method: Method, payload: bytes) -> bytes:
    """`payload` without its `user_auth` field when it parses (the auth then comes from metadata)."""
    try:
        message = method.parse(payload)
    except Exception:
        return payload
    if method.signed:
        message.ClearField(signing.AUTH_FIELD)
    return message.SerializeToString()


def sign_into_metadata(method: Method, payload: bytes, key: str) -> tuple[bytes, Metadata]:
    """`payload` without `user_auth`, and a real signature over it as the x-user-* metadata (the
    other place the server reads the auth block from); as is, with no metadata, if it does not parse."""
    try:
        message = method.parse(payload)
    except Exception:
        return payload, ()
    block = signing.sign_request(key, DOMAIN, method.name, message, timestamp_ms=time.time_ns() // 1_000_000)
    message.ClearField(signing.AUTH_FIELD)
    entries: Metadata = (
        ("x-user-id", block.user_id),
        ("x-user-signature", block.signature),
        ("x-user-timestamp", str(block.timestamp)),
        ("x-user-nonce", block.nonce),
    )
    return message.SerializeToString(), entries


@dataclass(frozen=True)
class Outcome:
    status: str  # "OK" or the gRPC code name
    finding: str | None = None
    response: bytes = b""  # a unary call's response message, or a stream's first one


def invoke(channel: grpc.Channel, method: Method, payload: bytes, metadata: Metadata = ()) -> Outcome:
    """Send `payload` to `method`; for a stream, wait for its first message (or its end) and cancel."""
    response: Any = b""
    options: dict[str, Any] = {"timeout": CALL_TIMEOUT_S, "metadata": metadata or None}
    try:
        if method.streaming:
            stream: Any = channel.unary_stream(method.path, None, None)(payload, **options)
            try:
                response = next(stream)
            except StopIteration:
                pass
            finally:
                stream.cancel()
        else:
            response = channel.unary_unary(method.path, None, None)(payload, **options)
    except grpc.RpcError as exc:
        return judge(exc)
    return Outcome("OK", response=bytes(response))


OVERSIZED_METADATA = "received metadata size exceeds"


def judge(error: grpc.RpcError) -> Outcome:
    call: Any = error  # an RpcError raised by a call is also the call
    code: grpc.StatusCode = call.code()
    details = call.details() or ""
    status = status_from_trailing_metadata(call.trailing_metadata(), code, details)
    if code in FORBIDDEN_CODES:
        return Outcome(code.name, f"{code.name}: {details[:200]}")
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and details.startswith(OVERSIZED_METADATA):
        # gRPC's own transport refuses metadata over its size limit (HTTP's 431) before any of the
        # service's code runs: nothing to attach ErrorInfo to, and nothing reached the service.
        return Outcome(code.name)
    if not _has_error_info(status):
        return Outcome(code.name, f"{code.name} without ErrorInfo: {details[:200]}")
    return Outcome(code.name)


def _has_error_info(status: Any) -> bool:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == ERROR_DOMAIN:
            return True
    return False


def call_and_record(
    channel: grpc.Channel, method: Method, payload: bytes, category: str, metadata: Metadata = ()
) -> Outcome:
    """Invoke, record the outcome in the run's report, and fail on a finding."""
    outcome = invoke(channel, method, payload, metadata)
    if outcome.finding is None:
        if outcome.status == "OK":
            REPORT.ok(category)
        else:
            REPORT.clean_error(category, outcome.status)
        return outcome
    reproducer = f"{method.path} {describe(method.parse, payload)}"
    if metadata:
        reproducer += f" | metadata {metadata!r:.300}"
    REPORT.finding(category, outcome.finding, reproducer)
    raise AssertionError(f"{category}: {outcome.finding}\n  reproducer: {reproducer}")


STOP_GRID = next(m for m in METHODS if m.name == "StopGrid")


def stop_started_grid(channel: grpc.Channel, started: Outcome, key: str) -> None:
    """Stop (and flatten) the grid a fuzzed StartGrid started, so that the next valid start of the
    run is not refused as a duplicate; the stop is fuzz traffic too (its own category)."""
    session_id = grid_service_pb2.StartGridResponse.FromString(started.response).grid.session_id
    request = grid_service_pb2.StopGridRequest(session_id=session_id, close_position=True)
    payload = sign_payload(STOP_GRID, request.SerializeToString(), key)
    call_and_record(channel, STOP_GRID, payload, "grpc StopGrid after a fuzzed start")
