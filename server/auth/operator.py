"""The operator's bearer token (GRID_OPERATOR_TOKEN): sent as gRPC metadata (REST: the header)
`authorization: Bearer <token>`, it grants one thing only, listing every user's sessions and
summaries (read-only). Compared in constant time; never logged."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

AUTHORIZATION_KEY = "authorization"
BEARER_PREFIX = "bearer "


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of an `authorization: Bearer <token>` entry, or None when there is none."""
    for name, value in metadata or ():
        if (
            name.lower() == AUTHORIZATION_KEY
            and isinstance(value, str)
            and value[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX
        ):
            return value[len(BEARER_PREFIX) :].strip()
    return None


def operator_token_matches(configured: str | None, presented: str) -> bool:
    """True when an operator token is configured and `presented` equals it (constant time)."""
    if not configured or not presented:
        return False
    return hmac.compare_digest(configured.encode("utf-8"), presented.encode("utf-8"))
