"""Typed exceptions for failed orderly-grid calls.

The server reports every failure as a `google.rpc.Status` in the `grpc-status-details-bin` trailer:
an `ErrorInfo` whose `reason` is a stable domain reason (SESSION_NOT_FOUND, ...), a `BadRequest`
naming the bad fields, and sometimes a `RetryInfo`. `from_rpc_error` reads that trailer and raises
the subclass of `GridError` registered for the reason (or, for a reason this SDK does not know, for
the gRPC code), so callers can `except SessionNotFound:` instead of comparing strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import grpc
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "orderly-grid"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad request field: a dotted path of proto field names and the rule it broke."""

    field: str
    description: str


class GridError(Exception):
    """A failed call. `reason` is the server's ErrorInfo reason, or the gRPC code name when the
    status carries none (a proxy, a deadline, a lost connection)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[FieldViolation] = (),
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: tuple[FieldViolation, ...] = tuple(field_violations)
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        text = f"{self.reason}: {self.message}"
        if self.field_violations:
            named = "; ".join(f"{v.field}: {v.description}" for v in self.field_violations)
            text = f"{text} ({named})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r}, code={self.code.name})"


class InvalidArgument(GridError):
    """The request breaks a rule; `field_violations` names the fields."""


class InvalidMarketParams(InvalidArgument):
    """The grid breaks the symbol's market rules (tick, minimum quantity or notional)."""


class UnknownSymbol(InvalidArgument):
    """The ticker maps to no tradable symbol."""


class SessionNotFound(GridError):
    pass


class DuplicateGridSession(GridError):
    """The user already runs a session on this symbol."""


class AccountSymbolInUse(GridError):
    """Another grid already runs on the same Orderly account and symbol; `metadata` names it."""


class SessionAlreadyStopped(GridError):
    pass


class AccountNotRegistered(GridError):
    """The user has no Orderly account registered with the service (see `register_account`)."""


class AccountCredentialsRejected(GridError):
    """The venue refuses the Orderly credentials registered for the user: register them again."""


class OrderCreationFailed(GridError):
    """The exchange rejected an order the grid needs."""


class FillsNotRetained(GridError):
    """WatchFills was asked to resume from a seq older than the retained fill ledger."""


class RateLimited(GridError):
    """Too many requests (or a fill subscriber fell behind); `retry_after_s` says when to retry."""


class Unauthenticated(GridError):
    """The signature is missing, invalid, expired or its nonce was used before."""


class PermissionDenied(GridError):
    """The signer does not own the session or data asked for."""


class ServiceUnavailable(GridError):
    """The service (or its store) cannot answer now: connection lost, shutting down. Retryable."""


class ExchangeUnavailable(ServiceUnavailable):
    """The exchange cannot be reached or keeps failing."""


class DeadlineExceeded(GridError):
    """The call did not finish within its deadline; a mutating call may still have taken effect."""


class InternalError(GridError):
    pass


REASON_CLASSES: Mapping[str, type[GridError]] = {
    "INVALID_ARGUMENT": InvalidArgument,
    "INVALID_MARKET_PARAMS": InvalidMarketParams,
    "UNKNOWN_SYMBOL": UnknownSymbol,
    "INVALID_PAGE_TOKEN": InvalidArgument,
    "SESSION_NOT_FOUND": SessionNotFound,
    "DUPLICATE_GRID_SESSION": DuplicateGridSession,
    "ACCOUNT_SYMBOL_IN_USE": AccountSymbolInUse,
    "SESSION_ALREADY_STOPPED": SessionAlreadyStopped,
    "ACCOUNT_NOT_REGISTERED": AccountNotRegistered,
    "ACCOUNT_CREDENTIALS_REJECTED": AccountCredentialsRejected,
    "ORDER_CREATION_FAILED": OrderCreationFailed,
    "FILLS_NOT_RETAINED": FillsNotRetained,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "UNAUTHENTICATED": Unauthenticated,
    "INVALID_SIGNATURE": Unauthenticated,
    "SIGNATURE_EXPIRED": Unauthenticated,
    "NONCE_REPLAYED": Unauthenticated,
    "SESSION_KEY_INVALID": Unauthenticated,
    "SESSION_KEY_EXPIRED": Unauthenticated,
    "SESSION_KEY_REVOKED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "EXCHANGE_UNAVAILABLE": ExchangeUnavailable,
    "STORE_UNAVAILABLE": ServiceUnavailable,
    "SHUTTING_DOWN": ServiceUnavailable,
    "INTERNAL": InternalError,
}
"""The exception class of each domain reason the server documents (server/api/errors.py)."""

CODE_CLASSES: Mapping[grpc.StatusCode, type[GridError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: ServiceUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.INTERNAL: InternalError,
}
"""Fallback by gRPC code, for reasons this SDK does not know (a newer server) and bare statuses."""

_CODES_BY_NUMBER: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class RpcCall(Protocol):
    """What a failed call offers: grpc.aio.AioRpcError and the sync grpc.RpcError (a grpc.Call)."""

    def code(self) -> grpc.StatusCode: ...

    def details(self) -> str | None: ...

    def trailing_metadata(self) -> object: ...


def error_class(code: grpc.StatusCode, reason: str) -> type[GridError]:
    return REASON_CLASSES.get(reason) or CODE_CLASSES.get(code, GridError)


def from_status(status: status_pb2.Status) -> GridError:
    """The typed exception a `google.rpc.Status` describes."""
    code = _CODES_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    reason = code.name
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_after_s: float | None = None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == ERROR_DOMAIN:
            reason = info.reason or reason
            metadata = dict(info.metadata)
        elif detail.Is(bad_request.DESCRIPTOR) and detail.Unpack(bad_request):
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Is(retry.DESCRIPTOR) and detail.Unpack(retry):
            retry_after_s = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    cls = error_class(code, reason)
    return cls(
        code,
        reason,
        status.message,
        metadata=metadata,
        field_violations=violations,
        retry_after_s=retry_after_s,
    )


def status_of(call: RpcCall) -> status_pb2.Status:
    """The rich status of a failed call; a bare one from its code and details when the trailer is
    missing (errors raised by grpc itself) or contradicts the call's code (not ours to trust)."""
    code = call.code()
    pairs = call.trailing_metadata()
    for key, value in pairs if isinstance(pairs, Iterable) else ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            if status.code == code.value[0]:
                return status
            break
    return status_pb2.Status(code=code.value[0], message=call.details() or "")


def from_rpc_error(error: grpc.RpcError) -> GridError:
    """The typed exception behind a failed gRPC call (grpc.aio or sync)."""
    call: RpcCall = error  # every RpcError grpc raises is also a Call
    return from_status(status_of(call))
