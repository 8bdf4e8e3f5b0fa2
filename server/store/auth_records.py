"""Records of the auth layer the store keeps: a user's registered Orderly account (its secret only
ever encrypted) and the outcome of a rate-limit hit."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.store.args import check_ms, check_positive_ms, check_text
from server.store.errors import InvalidRecord


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A user's Orderly account. `encrypted_secret` is the SecretBox envelope of the Orderly secret
    (server.auth.secrets); the store never sees the plain secret. Kept out of repr all the same."""

    user_id: str
    account_id: str
    orderly_key: str
    encrypted_secret: str = field(repr=False)
    created_at_ms: int
    updated_at_ms: int

    def __post_init__(self) -> None:
        for name in ("user_id", "account_id", "orderly_key", "encrypted_secret"):
            check_text(name, getattr(self, name))
        check_ms("created_at_ms", self.created_at_ms)
        check_ms("updated_at_ms", self.updated_at_ms)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether one hit is within its limit; when not, how long until the window that refused it ends."""

    allowed: bool
    count: int
    retry_after_ms: int = 0


def rate_window_start(key: str, limit: int, window_ms: int, now_ms: int) -> int:
    """Checks a hit's arguments and returns the start of the fixed window `now_ms` falls in."""
    check_text("key", key)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidRecord("limit", "must be an integer >= 1")
    check_positive_ms("window_ms", window_ms)
    check_ms("now_ms", now_ms)
    return now_ms - now_ms % window_ms


def rate_decision(count: int, limit: int, window_start_ms: int, window_ms: int, now_ms: int) -> RateDecision:
    if count <= limit:
        return RateDecision(True, count)
    return RateDecision(False, count, window_start_ms + window_ms - now_ms)
