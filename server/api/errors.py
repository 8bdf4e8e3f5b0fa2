"""The domain error reasons of the API, their gRPC status codes, and the HTTP statuses of those codes.

One table decides how every failure looks on the wire: a servicer raises `DomainError(reason, ...)`,
the API edge turns it into a `google.rpc.Status` (see `server.api.status`) whose code comes from
`REASON_CODES`, and the REST shim answers with `HTTP_STATUS_BY_CODE[code]`, the mapping grpc-gateway
uses (runtime.HTTPStatusFromCode), so REST clients see the same statuses a generated gateway gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import grpc

ERROR_DOMAIN = "orderly-grid"
"""`google.rpc.ErrorInfo.domain` of every error this service raises."""


class ErrorReason(StrEnum):
    """Why a call failed, as carried in `google.rpc.ErrorInfo.reason` (UPPER_SNAKE_CASE, stable)."""

    # The request is malformed: a field is missing or breaks a rule (see the field violations).
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    # The grid config breaks the symbol's market rules (tick, minimum quantity or notional, bounds).
    INVALID_MARKET_PARAMS = "INVALID_MARKET_PARAMS"
    # The ticker maps to no tradable Orderly symbol.
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    # The user already runs a session on this symbol (session id = <user_id>_<ticker>).
    DUPLICATE_GRID_SESSION = "DUPLICATE_GRID_SESSION"
    # Another grid already runs on the same Orderly account and symbol (the venue nets positions per
    # account and symbol); register a separate account for a second grid there.
    ACCOUNT_SYMBOL_IN_USE = "ACCOUNT_SYMBOL_IN_USE"
    # The session is in a terminal status and cannot be stopped again.
    SESSION_ALREADY_STOPPED = "SESSION_ALREADY_STOPPED"
    # The user has no Orderly account registered (RegisterAccount first).
    ACCOUNT_NOT_REGISTERED = "ACCOUNT_NOT_REGISTERED"
    # The venue refuses the user's registered Orderly credentials (unknown account, key not
    # registered to it): retrying cannot help; register the account again with working keys.
    ACCOUNT_CREDENTIALS_REJECTED = "ACCOUNT_CREDENTIALS_REJECTED"
    # RegisterAccount is off: the server has no master key (GRID_MASTER_KEY) to encrypt secrets with.
    ACCOUNT_REGISTRATION_DISABLED = "ACCOUNT_REGISTRATION_DISABLED"
    # The exchange rejected an order the grid needs (e.g. insufficient margin).
    ORDER_CREATION_FAILED = "ORDER_CREATION_FAILED"
    # The resume point of WatchFills is older than the retained fill ledger: fills would be missed.
    FILLS_NOT_RETAINED = "FILLS_NOT_RETAINED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    # No user_auth where the call acts for a user.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # The signature does not recover to user_id, or is malformed.
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    # user_auth.timestamp is outside the accepted window.
    SIGNATURE_EXPIRED = "SIGNATURE_EXPIRED"
    # user_auth.nonce was used before.
    NONCE_REPLAYED = "NONCE_REPLAYED"
    # user_auth.session_key_id names no session key of user_id (unknown, or another wallet's).
    SESSION_KEY_INVALID = "SESSION_KEY_INVALID"
    # The session key's expiry has passed: authorize a new one with the wallet (CreateSessionKey).
    SESSION_KEY_EXPIRED = "SESSION_KEY_EXPIRED"
    # The wallet revoked the session key (RevokeSessionKey).
    SESSION_KEY_REVOKED = "SESSION_KEY_REVOKED"
    # The signer is not the owner of the session or data asked for.
    PERMISSION_DENIED = "PERMISSION_DENIED"
    # The exchange (REST or WebSocket) cannot be reached or keeps failing.
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    # The server is draining for shutdown; retry against another instance or later.
    SHUTTING_DOWN = "SHUTTING_DOWN"
    # A bug or an unexpected failure; details are in the server log, never in the response.
    INTERNAL = "INTERNAL"


REASON_CODES: Mapping[ErrorReason, grpc.StatusCode] = MappingProxyType(
    {
        ErrorReason.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
        ErrorReason.INVALID_MARKET_PARAMS: grpc.StatusCode.INVALID_ARGUMENT,
        ErrorReason.UNKNOWN_SYMBOL: grpc.StatusCode.INVALID_ARGUMENT,
        ErrorReason.INVALID_PAGE_TOKEN: grpc.StatusCode.INVALID_ARGUMENT,
        ErrorReason.SESSION_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
        ErrorReason.DUPLICATE_GRID_SESSION: grpc.StatusCode.ALREADY_EXISTS,
        ErrorReason.ACCOUNT_SYMBOL_IN_USE: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.SESSION_ALREADY_STOPPED: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.ACCOUNT_NOT_REGISTERED: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.ACCOUNT_CREDENTIALS_REJECTED: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.ACCOUNT_REGISTRATION_DISABLED: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.ORDER_CREATION_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason.FILLS_NOT_RETAINED: grpc.StatusCode.OUT_OF_RANGE,
        ErrorReason.RATE_LIMIT_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
        ErrorReason.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.INVALID_SIGNATURE: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.SIGNATURE_EXPIRED: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.NONCE_REPLAYED: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.SESSION_KEY_INVALID: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.SESSION_KEY_EXPIRED: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.SESSION_KEY_REVOKED: grpc.StatusCode.UNAUTHENTICATED,
        ErrorReason.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
        ErrorReason.EXCHANGE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
        ErrorReason.STORE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
        ErrorReason.SHUTTING_DOWN: grpc.StatusCode.UNAVAILABLE,
        ErrorReason.INTERNAL: grpc.StatusCode.INTERNAL,
    }
)

HTTP_STATUS_BY_CODE: Mapping[grpc.StatusCode, int] = MappingProxyType(
    {
        # grpc-gateway v2 runtime.HTTPStatusFromCode, entry for entry.
        grpc.StatusCode.OK: 200,
        grpc.StatusCode.CANCELLED: 499,
        grpc.StatusCode.UNKNOWN: 500,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.FAILED_PRECONDITION: 400,
        grpc.StatusCode.ABORTED: 409,
        grpc.StatusCode.OUT_OF_RANGE: 400,
        grpc.StatusCode.UNIMPLEMENTED: 501,
        grpc.StatusCode.INTERNAL: 500,
        grpc.StatusCode.UNAVAILABLE: 503,
        grpc.StatusCode.DATA_LOSS: 500,
    }
)

_CODES_BY_NUMBER: Mapping[int, grpc.StatusCode] = MappingProxyType({c.value[0]: c for c in grpc.StatusCode})


def code_from_number(number: int) -> grpc.StatusCode:
    """The gRPC code with this wire number (`google.rpc.Status.code`); unknown numbers are UNKNOWN."""
    return _CODES_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def http_status_for_code(code: grpc.StatusCode) -> int:
    """The HTTP status grpc-gateway answers for a gRPC code (500 for anything it does not list)."""
    return HTTP_STATUS_BY_CODE.get(code, 500)


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad request field, as in `google.rpc.BadRequest.FieldViolation`.

    `field` is a dotted path of proto field names (`user_auth.signature`, `grid_levels`); `description`
    states the rule that was broken.
    """

    field: str
    description: str


class DomainError(Exception):
    """A failure the API reports to the caller with a stable reason.

    Raised by the service layer and turned into a gRPC status with ErrorInfo (and BadRequest when
    fields are named) at the API edge; rebuilt from such a status by the SDK and the REST shim.
    `reason` is normally an `ErrorReason`; a plain string is kept for reasons this build does not
    know (a newer server), in which case `code` must be given. `retry_after_ms`, when set, travels
    as google.rpc.RetryInfo (and as `details.retry_after_ms` in the REST envelope).
    """

    def __init__(
        self,
        reason: ErrorReason | str,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[FieldViolation] = (),
        code: grpc.StatusCode | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        known = _known_reason(reason)
        if code is None:
            if known is None:
                raise ValueError(f"unknown error reason {reason!r} needs an explicit code")
            code = REASON_CODES[known]
        super().__init__(message)
        self.reason: ErrorReason | str = known if known is not None else reason
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: tuple[FieldViolation, ...] = tuple(field_violations)
        self.code = code
        # When to try again (google.rpc.RetryInfo.retry_delay), e.g. for RATE_LIMIT_EXCEEDED.
        self.retry_after_ms = retry_after_ms

    @classmethod
    def invalid_field(
        cls, field: str, rule: str, reason: ErrorReason = ErrorReason.INVALID_ARGUMENT
    ) -> DomainError:
        """The common case of one bad field: the message names the field and the rule."""
        return cls(reason, f"{field}: {rule}", field_violations=[FieldViolation(field, rule)])

    @property
    def http_status(self) -> int:
        return http_status_for_code(self.code)

    def __repr__(self) -> str:
        return f"DomainError({str(self.reason)!r}, {self.message!r}, code={self.code.name})"


def _known_reason(reason: ErrorReason | str) -> ErrorReason | None:
    try:
        return ErrorReason(reason)
    except ValueError:
        return None
