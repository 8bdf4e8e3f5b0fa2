"""`DomainError` <-> `google.rpc.Status` (with ErrorInfo and BadRequest details), on gRPC and REST.

gRPC carries the rich status as the `grpc-status-details-bin` trailer (what grpcio-status's
`rpc_status` reads and writes); the REST shim renders the same status as the REST contract's error
envelope. Unexpected exceptions become a bare INTERNAL status whose message reveals nothing.

A status travels in metadata (`grpc-message` and the `grpc-status-details-bin` trailer), which gRPC
caps: a client refuses trailers over 8 KiB with RESOURCE_EXHAUSTED "metadata size exceeds ... limit",
so an error that echoes a long input (a 20,000-character session id) would reach the client as a
rate-limit error (HTTP 429 through the shim). `to_status` therefore bounds what it puts on the wire:
the message to `MAX_MESSAGE_BYTES` of UTF-8, each ErrorInfo metadata value and BadRequest text to
`MAX_DETAIL_TEXT_BYTES`, at most `MAX_DETAIL_ENTRIES` of each, and the whole serialized status to
`MAX_STATUS_BYTES` (the last field violations, then the last metadata entries, are left out until it
fits). A clipped text ends in `CLIP_MARK`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from server.api.errors import (
    ERROR_DOMAIN,
    DomainError,
    ErrorReason,
    FieldViolation,
    code_from_number,
    http_status_for_code,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"
INTERNAL_MESSAGE = "internal error"

# Wire bounds of a status (see the module doc). Worst case: a 512-byte message percent-encoded in
# grpc-message (1.5 KiB) plus a 3 KiB status in base64 (4 KiB): well inside gRPC's 8 KiB soft limit.
MAX_MESSAGE_BYTES = 512
MAX_DETAIL_TEXT_BYTES = 256
MAX_DETAIL_KEY_BYTES = 64
MAX_DETAIL_ENTRIES = 8
MAX_STATUS_BYTES = 3072
CLIP_MARK = "…"


def clip_text(text: str, max_bytes: int) -> str:
    """`text` as valid UTF-8 (a lone surrogate, which JSON's \\ud800 escapes can produce, becomes
    "?") if that is at most `max_bytes` long, else its longest prefix of whole characters that fits
    with `CLIP_MARK` appended."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return text if len(encoded) == len(text) else encoded.decode("utf-8")
    room = max(0, max_bytes - len(CLIP_MARK.encode()))
    return encoded[:room].decode("utf-8", errors="ignore") + CLIP_MARK


def to_status(error: DomainError) -> status_pb2.Status:
    """The wire status of a domain error: code, message, ErrorInfo and (if any) BadRequest and
    RetryInfo, within the bounds of the module doc."""
    metadata = {
        clip_text(key, MAX_DETAIL_KEY_BYTES): clip_text(value, MAX_DETAIL_TEXT_BYTES)
        for key, value in list(error.metadata.items())[:MAX_DETAIL_ENTRIES]
    }
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=clip_text(v.field, MAX_DETAIL_TEXT_BYTES),
            description=clip_text(v.description, MAX_DETAIL_TEXT_BYTES),
        )
        for v in error.field_violations[:MAX_DETAIL_ENTRIES]
    ]
    status = _status(error, metadata, violations)
    # Leave out the last violations (keeping one), then the last metadata entries, until it fits.
    while status.ByteSize() > MAX_STATUS_BYTES and (len(violations) > 1 or metadata):
        if len(violations) > 1:
            violations.pop()
        else:
            metadata.pop(next(reversed(metadata)))
        status = _status(error, metadata, violations)
    return status


def _status(
    error: DomainError,
    metadata: dict[str, str],
    violations: list[error_details_pb2.BadRequest.FieldViolation],
) -> status_pb2.Status:
    status = status_pb2.Status(code=error.code.value[0], message=clip_text(error.message, MAX_MESSAGE_BYTES))
    info = error_details_pb2.ErrorInfo(
        reason=clip_text(str(error.reason), MAX_DETAIL_KEY_BYTES), domain=ERROR_DOMAIN, metadata=metadata
    )
    status.details.add().Pack(info)
    if violations:
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=violations))
    if error.retry_after_ms is not None:
        delay_ms = max(0, error.retry_after_ms)
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.seconds, millis = divmod(delay_ms, 1000)
        retry.retry_delay.nanos = millis * 1_000_000
        status.details.add().Pack(retry)
    return status


def status_for_exception(exc: BaseException) -> status_pb2.Status:
    """The status to answer for any exception a handler raised: a DomainError as it is, anything
    else as INTERNAL with a fixed message (the exception belongs in the server log, not the reply)."""
    if isinstance(exc, DomainError):
        return to_status(exc)
    return to_status(DomainError(ErrorReason.INTERNAL, INTERNAL_MESSAGE))


def from_status(status: status_pb2.Status) -> DomainError:
    """Rebuild the DomainError a status describes. A status without our ErrorInfo (from a proxy, or
    a plain grpc error) gets the gRPC code's name as its reason."""
    code = code_from_number(status.code)
    reason: str = code.name
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_after_ms: int | None = None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == ERROR_DOMAIN:
            reason = info.reason
            metadata = dict(info.metadata)
        elif detail.Is(bad_request.DESCRIPTOR) and detail.Unpack(bad_request):
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Is(retry.DESCRIPTOR) and detail.Unpack(retry):
            retry_after_ms = retry.retry_delay.seconds * 1000 + retry.retry_delay.nanos // 1_000_000
    return DomainError(
        reason,
        status.message,
        metadata=metadata,
        field_violations=violations,
        code=code,
        retry_after_ms=retry_after_ms,
    )


def trailing_metadata(status: status_pb2.Status) -> tuple[tuple[str, bytes], ...]:
    """The trailer that carries the rich status; pass it to `context.abort(code, message, trailers)`."""
    return ((STATUS_DETAILS_KEY, status.SerializeToString()),)


def status_from_trailing_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | None, code: grpc.StatusCode, message: str
) -> status_pb2.Status:
    """The rich status of a failed call, from its trailers; a bare status from `code` and `message`
    when the trailer is absent (errors raised by grpc itself, deadlines, proxies)."""
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            if status.code == code.value[0]:
                return status
            # A trailer that contradicts the call's code is not ours to trust.
            break
    return status_pb2.Status(code=code.value[0], message=message)


def error_from_rpc_error(error: grpc.RpcError) -> DomainError:
    """The DomainError behind a failed client call (sync or grpc.aio)."""
    call: Any = error  # RpcError subclasses are also Call objects; grpc-stubs does not say so
    status = status_from_trailing_metadata(call.trailing_metadata(), call.code(), call.details() or "")
    return from_status(status)


def rest_error_envelope(status: status_pb2.Status) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of the REST contract's error envelope for a status:
    {"success": false, "error_code": <reason>, "message": ..., "details": {...}}. `details` holds the
    ErrorInfo metadata and, when fields were named, "field_violations": [{"field", "description"}],
    and "retry_after_ms" (an integer) when the status carries a RetryInfo;
    `code` is the gRPC code name, as grpc-gateway reports it."""
    error = from_status(status)
    details: dict[str, Any] = dict(error.metadata)
    if error.field_violations:
        details["field_violations"] = [
            {"field": v.field, "description": v.description} for v in error.field_violations
        ]
    if error.retry_after_ms is not None:
        details["retry_after_ms"] = error.retry_after_ms
    body: dict[str, Any] = {
        "success": False,
        "error_code": str(error.reason),
        "code": error.code.name,
        "message": error.message,
        "details": details,
    }
    return http_status_for_code(error.code), body
