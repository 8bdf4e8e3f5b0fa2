"""The one call a gRPC servicer makes before acting for a user:

    user = await gate.authenticate("StopGrid", request, context)

It refuses a client address that failed to authenticate too often, counts the call against the
client address (RESOURCE_EXHAUSTED past the per-peer limit), verifies the auth block (from the
message or the x-user-* metadata; the operator token only for the listings), counts a failure
against the address, then counts the call against the verified user. The client address is the
gRPC peer's, or the one the REST shim forwarded when the call provably comes from it
(server.api.forwarding). `build_auth` assembles the gate, the stream cap and the account registry
from the configuration values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message
from orderly_grid.session_keys import DEFAULT_CHAIN_ID
from orderly_grid.signing import DEFAULT_DOMAIN

from server.api.errors import DomainError, ErrorReason
from server.api.forwarding import ClientAddresses
from server.auth.accounts import AccountRegistry, AccountStore
from server.auth.rate_limits import (
    DEFAULT_TRUSTED_PROXIES,
    RateLimiter,
    RateLimitPolicy,
    RateLimitStore,
)
from server.auth.secrets import SecretBox
from server.auth.session_keys import DEFAULT_CACHE_MS, SessionKeyRegistry, SessionKeyStore
from server.auth.session_nonces import NonceBatchStore, SessionNonceLedger
from server.auth.stream_limits import DEFAULT_MAX_STREAMS_PER_USER, StreamLimiter
from server.auth.verifier import DEFAULT_WINDOW_MS, AuthenticatedUser, AuthVerifier, NonceStore

# The read-only listings the operator token may call for everyone.
OPERATOR_ACTIONS = frozenset({"ListGrids", "ListGridSummaries"})


class CallContext(Protocol):
    """What the gate needs of a grpc.aio.ServicerContext."""

    def peer(self) -> str: ...

    # grpc.aio's Metadata iterates as (key, value) pairs; typed loosely to accept it and plain tuples.
    def invocation_metadata(self) -> Iterable[Any] | None: ...


class AuthStore(NonceStore, RateLimitStore, AccountStore, SessionKeyStore, NonceBatchStore, Protocol):
    pass


class AuthGate:
    def __init__(
        self,
        verifier: AuthVerifier,
        limiter: RateLimiter,
        *,
        trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
        proxy_token: str | None = None,
        operator_actions: Iterable[str] = OPERATOR_ACTIONS,
    ) -> None:
        self.verifier = verifier
        self.limiter = limiter
        self._addresses = ClientAddresses(trusted_proxies, proxy_token)
        self._operator_actions = frozenset(operator_actions)

    async def authenticate(self, action: str, request: Message, context: CallContext) -> AuthenticatedUser:
        """The verified caller of `action` (the RPC method name), or a DomainError."""
        metadata = _metadata_of(context)
        peer = self._addresses.of_call(context.peer(), metadata)
        self.limiter.check_auth_failures(action, peer)
        await self.limiter.check_peer(action, peer)
        try:
            user = await self.verifier.verify(
                action, request, metadata, allow_operator=action in self._operator_actions
            )
        except DomainError as exc:
            if exc.code == grpc.StatusCode.UNAUTHENTICATED:
                await self.limiter.count_auth_failure(action, peer)
            raise
        await self.limiter.check_user(action, user.user_id)
        return user

    async def limit_anonymous(self, action: str, context: CallContext) -> None:
        """The per-address limits of a call that needs no signature (PreviewGrid)."""
        peer = self._addresses.of_call(context.peer(), _metadata_of(context))
        self.limiter.check_auth_failures(action, peer)
        await self.limiter.check_peer(action, peer)

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


def _metadata_of(context: CallContext) -> tuple[tuple[str, str | bytes], ...]:
    return tuple((str(key), value) for key, value in context.invocation_metadata() or ())


@dataclass(frozen=True, slots=True)
class AuthComponents:
    gate: AuthGate
    accounts: AccountRegistry
    streams: StreamLimiter = field(default_factory=StreamLimiter)
    session_keys: SessionKeyRegistry | None = None

    async def close(self) -> None:
        """Write the session-key nonces still pending (server.auth.session_nonces)."""
        if self.session_keys is not None:
            await self.session_keys.close()


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
    proxy_token: str | None = None,
    max_streams_per_user: int = DEFAULT_MAX_STREAMS_PER_USER,
    chain_id: int = DEFAULT_CHAIN_ID,
    session_key_cache_ms: int = DEFAULT_CACHE_MS,
) -> AuthComponents:
    """The gate, the stream cap and the account registry from configuration: GRID_LEGACY_AUTH
    (`legacy_enabled`), GRID_OPERATOR_TOKEN, GRID_MASTER_KEY (unset: RegisterAccount is refused),
    GRID_TRUSTED_PROXIES, GRID_MAX_STREAMS_PER_USER; `proxy_token` is the secret of this process's
    REST shim. A malformed master key raises SecretBoxError naming the variable, so the server
    fails at start-up, not per request. `chain_id` is the EIP-712 chain id of session-key
    authorizations (GRID_AUTH_CHAIN_ID); `session_key_cache_ms` bounds how long another instance's
    revocation takes to reach this one."""
    ledger = SessionNonceLedger(store, clock_ms=clock_ms)
    session_keys = SessionKeyRegistry(store, ledger, clock_ms=clock_ms, cache_ms=session_key_cache_ms)
    verifier = AuthVerifier(
        store,
        clock_ms=clock_ms,
        domain=domain,
        window_ms=window_ms,
        legacy_enabled=legacy_enabled,
        operator_token=operator_token,
        session_keys=session_keys,
        chain_id=chain_id,
    )
    limiter = RateLimiter(store, clock_ms=clock_ms, policy=policy)
    registry = AccountRegistry(store, SecretBox.from_setting(master_key), clock_ms=clock_ms)
    gate = AuthGate(verifier, limiter, trusted_proxies=trusted_proxies, proxy_token=proxy_token)
    return AuthComponents(gate, registry, StreamLimiter(max_streams_per_user), session_keys)
