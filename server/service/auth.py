"""`UserAuth`: a request's `user_auth` block without protobuf (server.grpc_convert builds it).

Who a request acts for is decided at the API edge, before the service layer is called: the gRPC
servicer (server.grpc_service) passes every user-acting request through the wallet-signature gate
(server.auth.AuthGate: rate limits, EIP-191 signature over action + parameters, time window, nonce
consumed in the store). The service layer only ever sees the verified, lower-case user id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserAuth:
    """`orderly_grid.v1.UserAuth` without protobuf: what the wallet signed and with what."""

    user_id: str
    signature: str = ""
    timestamp: int = 0
    nonce: str = ""
