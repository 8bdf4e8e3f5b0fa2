"""The DomainErrors the service layer raises for what its dependencies report, in one place."""

from __future__ import annotations

from server.api.errors import DomainError, ErrorReason, FieldViolation
from server.exchange import ExchangeError, RateLimited, SymbolError
from server.store import InvalidRecord, StoreError, StoreUnavailable

DEFAULT_PAGE_SIZE = 50
# When to try again after the exchange failed a call (google.rpc.RetryInfo of EXCHANGE_UNAVAILABLE).
EXCHANGE_RETRY_AFTER_MS = 1_000
MAX_PAGE_SIZE = 500


def page_size_of(requested: int) -> int:
    """AIP-158: 0 means the default, larger than the maximum is capped."""
    if requested < 0:
        raise DomainError.invalid_field("page_size", f"must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def exchange_error(exc: ExchangeError | SymbolError, venue: str = "orderly") -> DomainError:
    """The API's error for a venue failure; `venue` "simulator" names the built-in simulator, not
    Orderly, as the one that does not list a symbol (it lists only a few of Orderly's markets)."""
    if isinstance(exc, SymbolError):
        text = str(exc)
        if venue == "simulator":
            text = text.replace("Orderly does not list", "the built-in exchange simulator does not list")
            text = text.replace("on Orderly", "on the built-in exchange simulator")
        violation = FieldViolation("ticker", text.removeprefix("ticker: "))
        return DomainError(ErrorReason.UNKNOWN_SYMBOL, text, field_violations=[violation])
    if isinstance(exc, RateLimited):
        return DomainError(ErrorReason.RATE_LIMIT_EXCEEDED, "the exchange is rate limiting; retry later")
    return DomainError(
        ErrorReason.EXCHANGE_UNAVAILABLE,
        f"the exchange failed: {exc.message}",
        retry_after_ms=EXCHANGE_RETRY_AFTER_MS,
    )


def store_error(exc: StoreError) -> DomainError:
    if isinstance(exc, InvalidRecord):
        if exc.field == "page_token":
            return DomainError.invalid_field("page_token", exc.rule, ErrorReason.INVALID_PAGE_TOKEN)
        return DomainError.invalid_field(exc.field, exc.rule)
    if isinstance(exc, StoreUnavailable):
        return DomainError(ErrorReason.STORE_UNAVAILABLE, "the store is unavailable; retry later")
    return DomainError(ErrorReason.INTERNAL, "internal error")


def duplicate_session(session_id: str) -> DomainError:
    return DomainError(
        ErrorReason.DUPLICATE_GRID_SESSION,
        f"a grid session {session_id} is already running; stop it first",
        metadata={"session_id": session_id},
    )


def session_not_found(session_id: str) -> DomainError:
    """Also the answer for another user's session: nobody can probe which sessions others run."""
    return DomainError(
        ErrorReason.SESSION_NOT_FOUND, f"session {session_id} not found", metadata={"session_id": session_id}
    )


def shutting_down() -> DomainError:
    return DomainError(ErrorReason.SHUTTING_DOWN, "the server is shutting down; retry shortly")
