"""The single place where a request's `user_auth` becomes a user id.

TEMPORARY (issue 5): `authenticate` checks only that `user_id` is a syntactically valid EVM address
(0x + 40 hex). It does NOT verify the signature, the timestamp window or the nonce yet: full EIP-191
verification (recover the signer with eth-account over the canonical text of action + params +
timestamp + nonce, require it to equal `user_id`, check the time window, consume the nonce in the
store) comes with issue 6. It plugs in at ONE place: the `authenticator` the GridService servicer
takes (server.grpc_service.Authenticator, `(action, request, context) -> user_id`), whose default,
`format_only_authenticator`, calls this function. The service layer only ever sees the user id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from server.api.errors import DomainError, ErrorReason

_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True, slots=True)
class UserAuth:
    """`orderly_grid.v1.UserAuth` without protobuf: what the wallet signed and with what."""

    user_id: str
    signature: str = ""
    timestamp: int = 0
    nonce: str = ""


def authenticate(auth: UserAuth | None, action: str, params: Mapping[str, object]) -> str:
    """The user id the request acts for, or DomainError UNAUTHENTICATED naming the field.

    `action` (e.g. "StartGrid") and `params` (the request's fields) are what the signature will
    cover once issue 6 lands; today only the format of `user_auth.user_id` is checked (see module doc).
    The id is returned lower-cased so checksummed and lower-case spellings name the same user.
    """
    del action, params  # covered by the signature check of issue 6
    if auth is None or not auth.user_id:
        raise DomainError(
            ErrorReason.UNAUTHENTICATED,
            "user_auth.user_id: is required (the wallet address the request acts for)",
            field_violations=[],
        )
    if not _EVM_ADDRESS.match(auth.user_id):
        raise DomainError.invalid_field(
            "user_auth.user_id",
            "must be an EVM address: 0x followed by 40 hex digits",
            ErrorReason.UNAUTHENTICATED,
        )
    return auth.user_id.lower()
