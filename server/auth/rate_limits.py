"""Rate limits, per client address and per user, counted in the store so they hold across restarts
and across instances sharing a store.

Three checks, at three moments:
- `check_peer` BEFORE the signature is verified: it bounds how much signature recovery (and nonce
  traffic) one address can cause, valid or not; it also limits PreviewGrid, which needs no
  signature but asks the venue for its mark;
- `check_user` AFTER it: counting per user before verification would let anyone exhaust another
  wallet's budget with unsigned requests naming it;
- `count_auth_failure` when a call's authentication FAILED: past the limit, the address is refused
  (`check_auth_failures`) before any signature is looked at, until the window ends. The counter is
  in the store; the refusal is remembered in this process, so another instance sharing the store
  refuses that address after its next failure there.
Exceeding a limit is RATE_LIMIT_EXCEEDED (RESOURCE_EXHAUSTED, HTTP 429) with the delay until the
window ends as a google.rpc.RetryInfo (REST: details.retry_after_ms).
Windows are fixed (one counter per key and window): simple and atomic on both backends; a burst of
up to twice the limit is possible across a window boundary.
The client address is decided by `server.api.forwarding` (never by the client).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from server.api.errors import DomainError, ErrorReason
from server.api.forwarding import client_address
from server.store.auth_records import RateDecision
from server.store.errors import StoreUnavailable

__all__ = [
    "DEFAULT_TRUSTED_PROXIES",
    "MINUTE_MS",
    "MUTATING_ACTIONS",
    "RateLimit",
    "RateLimitPolicy",
    "RateLimitStore",
    "RateLimiter",
    "client_address",
]

MINUTE_MS = 60_000
MUTATING_ACTIONS = ("StartGrid", "StopGrid", "RegisterAccount", "CreateSessionKey", "RevokeSessionKey")
PREVIEW_ACTION = "PreviewGrid"
BACKTEST_ACTION = "BacktestGrid"
# No proxy is trusted by default: the REST shim of this process proves itself with a secret
# (server.api.forwarding); a shim run as its own process must be listed in GRID_TRUSTED_PROXIES.
DEFAULT_TRUSTED_PROXIES: tuple[str, ...] = ()
DEFAULT_PEER_PER_MIN = 60
DEFAULT_USER_PER_MIN = 10
DEFAULT_PREVIEW_PER_MIN = 120
# A backtest costs up to a few hundred ms of CPU (server.backtest.service bounds its input).
DEFAULT_BACKTEST_PER_MIN = 30
DEFAULT_AUTH_FAILURES_PER_MIN = 30
# Addresses refused for failed authentications that this process remembers at most (the oldest
# refusals are forgotten first; the store's counter still holds them).
MAX_REFUSED_ADDRESSES = 100_000


class RateLimitStore(Protocol):
    async def hit_rate_limit(self, key: str, *, limit: int, window_ms: int, now_ms: int) -> RateDecision: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    window_ms: int = MINUTE_MS

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_ms < 1:
            raise ValueError("a rate limit needs limit >= 1 and window_ms >= 1")


def _limits(rate: RateLimit, actions: tuple[str, ...] = MUTATING_ACTIONS) -> Mapping[str, RateLimit]:
    return MappingProxyType(dict.fromkeys(actions, rate))


def _default_per_peer() -> Mapping[str, RateLimit]:
    return MappingProxyType(
        {
            **_limits(RateLimit(DEFAULT_PEER_PER_MIN)),
            PREVIEW_ACTION: RateLimit(DEFAULT_PREVIEW_PER_MIN),
            BACKTEST_ACTION: RateLimit(DEFAULT_BACKTEST_PER_MIN),
        }
    )


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Limits by RPC method name; an action absent from a mapping is not limited on that axis.
    `auth_failures` bounds the failed authentications of one address (None: unbounded)."""

    per_user: Mapping[str, RateLimit] = field(
        default_factory=lambda: _limits(RateLimit(DEFAULT_USER_PER_MIN))
    )
    per_peer: Mapping[str, RateLimit] = field(default_factory=_default_per_peer)
    auth_failures: RateLimit | None = RateLimit(DEFAULT_AUTH_FAILURES_PER_MIN)

    @classmethod
    def per_minute(
        cls,
        *,
        peer: int = DEFAULT_PEER_PER_MIN,
        user: int = DEFAULT_USER_PER_MIN,
        preview: int = DEFAULT_PREVIEW_PER_MIN,
        auth_failures: int = DEFAULT_AUTH_FAILURES_PER_MIN,
        backtest: int = DEFAULT_BACKTEST_PER_MIN,
    ) -> RateLimitPolicy:
        """The policy of the settings: `peer` and `user` calls per minute of each mutating RPC,
        `preview` PreviewGrid calls, `backtest` BacktestGrid calls and `auth_failures` failed
        authentications per address."""
        return cls(
            per_user=_limits(RateLimit(user)),
            per_peer=MappingProxyType(
                {
                    **_limits(RateLimit(peer)),
                    PREVIEW_ACTION: RateLimit(preview),
                    BACKTEST_ACTION: RateLimit(backtest),
                }
            ),
            auth_failures=RateLimit(auth_failures),
        )


class RateLimiter:
    def __init__(
        self, store: RateLimitStore, *, clock_ms: Callable[[], int], policy: RateLimitPolicy | None = None
    ) -> None:
        self._store = store
        self._clock_ms = clock_ms
        self._policy = policy if policy is not None else RateLimitPolicy()
        # address -> end (ms) of the window that refused it; insertion order is expiry order.
        self._refused: dict[str, int] = {}

    async def check_peer(self, action: str, peer: str) -> None:
        """Count this call against its client address; RATE_LIMIT_EXCEEDED past the limit."""
        rate = self._policy.per_peer.get(action)
        if rate is not None:
            await self._hit(f"peer:{peer}:{action}", rate, action, "this client address")

    async def check_user(self, action: str, user_id: str) -> None:
        """Count this call against the verified user; RATE_LIMIT_EXCEEDED past the limit."""
        rate = self._policy.per_user.get(action)
        if rate is not None and user_id:
            await self._hit(f"user:{user_id.lower()}:{action}", rate, action, "this wallet")

    def check_auth_failures(self, action: str, peer: str) -> None:
        """RATE_LIMIT_EXCEEDED while `peer` is refused for failed authentications (no I/O: this is
        checked before anything else of a call)."""
        rate = self._policy.auth_failures
        until_ms = self._refused.get(peer)
        if rate is None or until_ms is None:
            return
        now_ms = self._clock_ms()
        if now_ms >= until_ms:
            del self._refused[peer]
            return
        raise self._auth_failures_exceeded(action, rate, until_ms - now_ms)

    async def count_auth_failure(self, action: str, peer: str) -> None:
        """Count a failed authentication of `peer`; past the limit, remember the address as refused
        and raise RATE_LIMIT_EXCEEDED (else return, and the caller reports the failure itself).
        A store that cannot count leaves the failure to be reported as it is."""
        rate = self._policy.auth_failures
        if rate is None:
            return
        now_ms = self._clock_ms()
        try:
            decision = await self._store.hit_rate_limit(
                f"peer:{peer}:auth-failures", limit=rate.limit, window_ms=rate.window_ms, now_ms=now_ms
            )
        except StoreUnavailable:
            return
        if decision.allowed:
            return
        self._remember_refused(peer, now_ms + decision.retry_after_ms, now_ms)
        raise self._auth_failures_exceeded(action, rate, decision.retry_after_ms)

    def _remember_refused(self, peer: str, until_ms: int, now_ms: int) -> None:
        self._refused.pop(peer, None)
        self._refused[peer] = until_ms
        for address, expiry_ms in list(self._refused.items()):  # oldest first
            if expiry_ms > now_ms and len(self._refused) <= MAX_REFUSED_ADDRESSES:
                break
            del self._refused[address]

    @staticmethod
    def _auth_failures_exceeded(action: str, rate: RateLimit, retry_after_ms: int) -> DomainError:
        return _exceeded(
            action,
            f"{action}: more than {rate.limit} failed authentications per {rate.window_ms // 1000} s "
            "from this client address",
            rate,
            retry_after_ms,
        )

    async def _hit(self, key: str, rate: RateLimit, action: str, who: str) -> None:
        try:
            decision = await self._store.hit_rate_limit(
                key, limit=rate.limit, window_ms=rate.window_ms, now_ms=self._clock_ms()
            )
        except StoreUnavailable:
            raise DomainError(
                ErrorReason.STORE_UNAVAILABLE, "the store is unavailable; retry later"
            ) from None
        if not decision.allowed:
            text = f"{action}: more than {rate.limit} calls per {rate.window_ms // 1000} s from {who}"
            raise _exceeded(action, text, rate, decision.retry_after_ms)


def _exceeded(action: str, text: str, rate: RateLimit, retry_after_ms: int) -> DomainError:
    seconds = max(1, -(-retry_after_ms // 1000))
    return DomainError(
        ErrorReason.RATE_LIMIT_EXCEEDED,
        f"{text}; retry in {seconds} s",
        metadata={"action": action, "limit": str(rate.limit), "window_ms": str(rate.window_ms)},
        retry_after_ms=retry_after_ms,
    )
