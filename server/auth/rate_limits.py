"""Rate limits on the mutating RPCs, per peer and per user, counted in the store so they hold across
restarts and across instances sharing a store.

Two checks, at two moments:
- `check_peer` BEFORE the signature is verified: it bounds how much signature recovery (and nonce
  traffic) one address can cause, valid or not;
- `check_user` AFTER it: counting per user before verification would let anyone exhaust another
  wallet's budget with unsigned requests naming it.
Exceeding a limit is RATE_LIMIT_EXCEEDED (RESOURCE_EXHAUSTED, HTTP 429) with the delay until the
window ends as a google.rpc.RetryInfo (REST: details.retry_after_ms).
Windows are fixed (one counter per key and window): simple and atomic on both backends; a burst of
up to twice the limit is possible across a window boundary.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from server.api.errors import DomainError, ErrorReason
from server.store.auth_records import RateDecision
from server.store.errors import StoreUnavailable

MINUTE_MS = 60_000
MUTATING_ACTIONS = ("StartGrid", "StopGrid", "RegisterAccount")
FORWARDED_FOR_KEY = "x-forwarded-for"
# The REST shim runs on loopback next to the gRPC server; only its x-forwarded-for is believed.
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")


class RateLimitStore(Protocol):
    async def hit_rate_limit(self, key: str, *, limit: int, window_ms: int, now_ms: int) -> RateDecision: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    window_ms: int = MINUTE_MS

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_ms < 1:
            raise ValueError("a rate limit needs limit >= 1 and window_ms >= 1")


def _per_action(rate: RateLimit) -> Mapping[str, RateLimit]:
    return MappingProxyType(dict.fromkeys(MUTATING_ACTIONS, rate))


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Limits by RPC method name; an action absent from a mapping is not limited on that axis."""

    per_user: Mapping[str, RateLimit] = field(default_factory=lambda: _per_action(RateLimit(10)))
    per_peer: Mapping[str, RateLimit] = field(default_factory=lambda: _per_action(RateLimit(60)))


def _host_of(grpc_peer: str) -> str:
    """The address of a grpc peer string: "ipv4:1.2.3.4:5", "ipv6:[::1]:5", "unix:/path"."""
    kind, _, rest = grpc_peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") or rest
    return grpc_peer


def client_address(
    grpc_peer: str,
    metadata: Iterable[tuple[str, str | bytes]] | None,
    trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
) -> str:
    """Who to count a call against: the gRPC peer's address, or, when that peer is a trusted proxy
    (the REST shim), the last address of the x-forwarded-for it added (the one it saw connect)."""
    host = _host_of(grpc_peer)
    if host not in set(trusted_proxies):
        return host
    # The LAST entry: a client can smuggle its own x-forwarded-for in (REST: a Grpc-Metadata-
    # header) ahead of the one the shim appends, and can prepend anything to the header's list.
    forwarded = [v for k, v in metadata or () if k.lower() == FORWARDED_FOR_KEY and isinstance(v, str)]
    if forwarded:
        try:
            return str(ipaddress.ip_address(forwarded[-1].rsplit(",", 1)[-1].strip()))
        except ValueError:
            pass
    return host


class RateLimiter:
    def __init__(
        self, store: RateLimitStore, *, clock_ms: Callable[[], int], policy: RateLimitPolicy | None = None
    ) -> None:
        self._store = store
        self._clock_ms = clock_ms
        self._policy = policy if policy is not None else RateLimitPolicy()

    async def check_peer(self, action: str, peer: str) -> None:
        """Count this call against its peer (see `client_address`); RATE_LIMIT_EXCEEDED past the limit."""
        rate = self._policy.per_peer.get(action)
        if rate is not None:
            await self._hit(f"peer:{peer}:{action}", rate, action, "this client address")

    async def check_user(self, action: str, user_id: str) -> None:
        """Count this call against the verified user; RATE_LIMIT_EXCEEDED past the limit."""
        rate = self._policy.per_user.get(action)
        if rate is not None and user_id:
            await self._hit(f"user:{user_id.lower()}:{action}", rate, action, "this wallet")

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
            seconds = max(1, -(-decision.retry_after_ms // 1000))
            raise DomainError(
                ErrorReason.RATE_LIMIT_EXCEEDED,
                f"{action}: more than {rate.limit} calls per {rate.window_ms // 1000} s from {who}; "
                f"retry in {seconds} s",
                metadata={"action": action, "limit": str(rate.limit), "window_ms": str(rate.window_ms)},
                retry_after_ms=decision.retry_after_ms,
            )
