"""Wallet authentication, authorization and per-user exchange accounts.

- `build_auth(store, ...)` -> AuthComponents(gate, accounts); a servicer calls
  `user = await gate.authenticate(action, request, context)` first in every user-acting RPC;

- `AuthVerifier.verify(action, request, metadata)` -> `AuthenticatedUser` (signature, time window,
  nonce), with the signed text produced by `orderly_grid.signing` (one implementation for SDK and
  server);
- `require_session_owner` / `listing_user_filter`: a user reaches only their own sessions;
- `RateLimiter`: per-address and per-user limits (the mutating RPCs, PreviewGrid, failed
  authentications), kept in the store; the client address comes from server.api.forwarding;
- `StreamLimiter`: at most N concurrent WatchFills streams per wallet;
- `AccountRegistry` + `SecretBox`: users' Orderly credentials, the secret AES-GCM-encrypted at rest.
"""

from server.auth.accounts import AccountRegistry, AccountView
from server.auth.gate import OPERATOR_ACTIONS, AuthComponents, AuthGate, build_auth
from server.auth.operator import bearer_token, operator_token_matches
from server.auth.ownership import listing_user_filter, require_session_owner, session_not_found
from server.auth.rate_limits import RateLimit, RateLimiter, RateLimitPolicy, client_address
from server.auth.secrets import SecretBox, SecretBoxError, parse_master_key
from server.auth.stream_limits import StreamLimiter
from server.auth.verifier import AuthenticatedUser, AuthVerifier, parse_auth_block

__all__ = [
    "OPERATOR_ACTIONS",
    "AccountRegistry",
    "AccountView",
    "AuthComponents",
    "AuthGate",
    "AuthVerifier",
    "AuthenticatedUser",
    "RateLimit",
    "RateLimitPolicy",
    "RateLimiter",
    "SecretBox",
    "SecretBoxError",
    "StreamLimiter",
    "bearer_token",
    "build_auth",
    "client_address",
    "listing_user_filter",
    "operator_token_matches",
    "parse_auth_block",
    "parse_master_key",
    "require_session_owner",
    "session_not_found",
]
