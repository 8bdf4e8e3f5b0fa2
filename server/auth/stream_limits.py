"""A cap on the concurrent server streams (WatchFills) of one wallet.

A stream holds a subscription, a queue and a task for as long as the client keeps it open, so one
wallet opening thousands would exhaust the server. The count is per process (streams are this
process's resource), taken after the signature is verified, and released when the stream ends for
any reason. Past the cap the call is RATE_LIMIT_EXCEEDED (RESOURCE_EXHAUSTED, HTTP 429), without a
RetryInfo: a slot frees when one of the wallet's streams ends, not after a known delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from server.api.errors import DomainError, ErrorReason

DEFAULT_MAX_STREAMS_PER_USER = 10


class StreamLimiter:
    def __init__(self, max_per_user: int = DEFAULT_MAX_STREAMS_PER_USER) -> None:
        if max_per_user < 1:
            raise ValueError("max_per_user must be >= 1")
        self._max_per_user = max_per_user
        self._open: dict[str, int] = {}

    @property
    def max_per_user(self) -> int:
        return self._max_per_user

    def open_streams(self, user_id: str) -> int:
        return self._open.get(user_id.lower(), 0)

    @contextmanager
    def hold(self, action: str, user_id: str) -> Iterator[None]:
        """One stream of `user_id` for the duration of the block; RATE_LIMIT_EXCEEDED when the
        wallet already has `max_per_user` open."""
        key = user_id.lower()
        count = self._open.get(key, 0)
        if count >= self._max_per_user:
            raise DomainError(
                ErrorReason.RATE_LIMIT_EXCEEDED,
                f"{action}: at most {self._max_per_user} concurrent streams per wallet; "
                "close one before opening another",
                metadata={"action": action, "limit": str(self._max_per_user)},
            )
        self._open[key] = count + 1
        try:
            yield
        finally:
            remaining = self._open.get(key, 1) - 1
            if remaining > 0:
                self._open[key] = remaining
            else:
                self._open.pop(key, None)
