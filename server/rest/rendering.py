"""Response message -> REST JSON, and every failure -> the REST contract's error envelope."""

from __future__ import annotations

import json
from typing import Any, cast

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.rpc import status_pb2

from server.api.enum_names import shorten_enum_names
from server.api.errors import DomainError, ErrorReason
from server.api.status import rest_error_envelope, status_from_trailing_metadata, to_status

REQUEST_ID_HEADER = "X-Request-Id"


def message_to_json(message: Message) -> dict[str, Any]:
    """proto3 JSON with the proto field names, every non-optional field printed (so clients see
    zeros and empty lists rather than missing keys), enums as the contract's plain names."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    return shorten_enum_names(descriptor, data)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(body: dict[str, Any], status: int, request_id: str) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps, headers={REQUEST_ID_HEADER: request_id})


def success_response(data: dict[str, Any], request_id: str, *, status: int = 200) -> web.Response:
    return json_response({"success": status < 400, "data": data}, status, request_id)


def status_of_rpc_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status of a failed call (ErrorInfo and BadRequest from the trailer when present)."""
    trailers: Any = error.trailing_metadata()
    return status_from_trailing_metadata(trailers, error.code(), error.details() or "")


def status_response(status: status_pb2.Status, request_id: str) -> web.Response:
    http_status, body = rest_error_envelope(status)
    return json_response(body, http_status, request_id)


def error_response(error: DomainError, request_id: str) -> web.Response:
    return status_response(to_status(error), request_id)


def http_error_response(exc: web.HTTPException, request_id: str) -> web.Response:
    """aiohttp's own errors (no route, wrong method, body too large) in the envelope too."""
    reasons = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    codes = {404: grpc.StatusCode.NOT_FOUND, 405: grpc.StatusCode.UNIMPLEMENTED}
    code = codes.get(
        exc.status, grpc.StatusCode.INVALID_ARGUMENT if exc.status < 500 else grpc.StatusCode.INTERNAL
    )
    body = {
        "success": False,
        "error_code": reasons.get(exc.status, code.name),
        "code": code.name,
        "message": exc.reason,
        "details": {},
    }
    response = json_response(body, exc.status, request_id)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def internal_error_response(request_id: str) -> web.Response:
    return error_response(DomainError(ErrorReason.INTERNAL, "internal error"), request_id)
