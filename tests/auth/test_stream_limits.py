"""The cap on concurrent WatchFills streams per wallet (the servicer holds one slot per stream)."""

import grpc
import pytest

from server.api.errors import DomainError, ErrorReason
from server.auth import StreamLimiter


def test_a_wallet_past_its_streams_is_refused_until_one_ends() -> None:
    limiter = StreamLimiter(2)
    with limiter.hold("WatchFills", "0xAbC"), limiter.hold("WatchFills", "0xabc"):
        assert limiter.open_streams("0xabc") == 2
        with pytest.raises(DomainError) as caught, limiter.hold("WatchFills", "0xABC"):
            pass
        error = caught.value
        assert (error.reason, error.code) == (
            ErrorReason.RATE_LIMIT_EXCEEDED,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        assert "at most 2 concurrent streams per wallet" in error.message
        assert error.retry_after_ms is None  # a slot frees when a stream ends, not after a delay
        with limiter.hold("WatchFills", "0xdef"):  # another wallet has its own
            assert limiter.open_streams("0xdef") == 1
    assert limiter.open_streams("0xabc") == 0
    with limiter.hold("WatchFills", "0xabc"):
        pass


def test_a_stream_that_fails_releases_its_slot() -> None:
    limiter = StreamLimiter(1)
    with pytest.raises(RuntimeError), limiter.hold("WatchFills", "0xabc"):
        raise RuntimeError("the stream broke")
    assert limiter.open_streams("0xabc") == 0


def test_the_cap_is_at_least_one() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        StreamLimiter(0)
