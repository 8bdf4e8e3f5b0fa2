"""The one call a gRPC servicer makes before acting for a user:

    user = await gate.authenticate("StopGrid", request, context)

It counts the call against the client address (RESOURCE_EXHAUSTED past the per-peer limit), verifies
the auth block (from the message or the x-user-* metadata; the operator token only for the listings),
then counts it against the verified user. `build_auth` assembles the gate and the account registry
from the configuration values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.message import Message
from orderly_grid.signing import DEFAULT_DOMAIN

from server.api.errors import DomainError, ErrorReason
from server.auth.accounts import AccountRegistry, AccountStore
from server.auth.rate_limits import (
    DEFAULT_TRUSTED_PROXIES,
    RateLimiter,
    RateLimitPolicy,
    RateLimitStore,
    client_address,
)
from server.auth.secrets import SecretBox
from server.auth.verifier import DEFAULT_WINDOW_MS, AuthenticatedUser, AuthVerifier, NonceStore

# The read-only listings the operator token may call for everyone.
OPERATOR_ACTIONS = frozenset({"ListGrids", "ListGridSummaries"})


class CallContext(Protocol):
    """What the gate needs of a grpc.aio.ServicerContext."""

    def peer(self) -> str: ...

    # grpc.aio's Metadata iterates as (key, value) pairs; typed loosely to accept it and plain tuples.
    def invocation_metadata(self) -> Iterable[Any] | None: ...


class AuthStore(NonceStore, RateLimitStore, AccountStore, Protocol):
    pass


class AuthGate:
    def __init__(
        self,
        verifier: AuthVerifier,
        limiter: RateLimiter,
        *,
        trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
        operator_actions: Iterable[str] = OPERATOR_ACTIONS,
    ) -> None:
        self.verifier = verifier
        self.limiter = limiter
        self._trusted_proxies = tuple(trusted_proxies)
        self._operator_actions = frozenset(operator_actions)

    async def authenticate(self, action: str, request: Message, context: CallContext) -> AuthenticatedUser:
        """The verified caller of `action` (the RPC method name), or a DomainError."""
        metadata: tuple[tuple[str, str | bytes], ...] = tuple(
            (str(key), value) for key, value in context.invocation_metadata() or ()
        )
        await self.limiter.check_peer(action, client_address(context.peer(), metadata, self._trusted_proxies))
        user = await self.verifier.verify(
            action, request, metadata, allow_operator=action in self._operator_actions
        )
        await self.limiter.check_user(action, user.user_id)
        return user

    async def authenticate_user_id(self, action: str, request: Message, context: CallContext) -> str:
        """`authenticate` for the RPCs that act for one wallet only (StartGrid, StopGrid, GetGrid,
        WatchFills in server.grpc_service): the verified user id; the operator token is refused with
        PERMISSION_DENIED, since such a caller cannot list everyone's sessions."""
        user = await self.authenticate(action, request, context)
        if user.is_operator:
            raise DomainError(
                ErrorReason.PERMISSION_DENIED, f"{action}: the operator token is not accepted by this server"
            )
        return user.user_id


@dataclass(frozen=True, slots=True)
class AuthComponents:
    gate: AuthGate
    accounts: AccountRegistry


def build_auth(
    store: AuthStore,
    *,
    clock_ms: Callable[[], int],
    domain: str = DEFAULT_DOMAIN,
    legacy_enabled: bool = False,
    operator_token: str | None = None,
    master_key: str | None = None,
    window_ms: int = DEFAULT_WINDOW_MS,
    policy: RateLimitPolicy | None = None,
    trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
) -> AuthComponents:
    """The gate and the account registry from configuration: GRID_LEGACY_AUTH (`legacy_enabled`),
    GRID_OPERATOR_TOKEN, GRID_MASTER_KEY (unset: RegisterAccount is refused). A malformed master key
    raises SecretBoxError naming the variable, so the server fails at start-up, not per request."""
    verifier = AuthVerifier(
        store,
        clock_ms=clock_ms,
        domain=domain,
        window_ms=window_ms,
        legacy_enabled=legacy_enabled,
        operator_token=operator_token,
    )
    limiter = RateLimiter(store, clock_ms=clock_ms, policy=policy)
    registry = AccountRegistry(store, SecretBox.from_setting(master_key), clock_ms=clock_ms)
    return AuthComponents(AuthGate(verifier, limiter, trusted_proxies=trusted_proxies), registry)
