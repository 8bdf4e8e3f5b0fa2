"""VenueConnector on a fake exchange: retries with capped, jittered backoff until the exchange
starts, resumes once, gates the calls that need the exchange, and stops promptly mid-attempt."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from server.api.errors import DomainError, ErrorReason
from server.exchange import AuthError, ExchangeError
from server.venue_connector import VenueConnector, VenueState
from tests.log_capture import captured_logs


async def nothing() -> None:
    """An `on_connected` that does nothing."""


class FakeExchange:
    """`start()` fails `failures` times (ExchangeError), then succeeds; or hangs when `hang`."""

    def __init__(self, failures: int = 0, *, hang: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.starts = 0
        self.cancelled = asyncio.Event()
        self._started = asyncio.Condition()

    async def wait_starts(self, count: int) -> None:
        """Until `start()` has been called `count` times (the connector runs on to its next await:
        a failed attempt is recorded by then)."""
        async with self._started:
            await self._started.wait_for(lambda: self.starts >= count)

    async def start(self) -> None:
        self.starts += 1
        async with self._started:
            self._started.notify_all()
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if self.starts <= self.failures:
            raise ExchangeError(f"private stream did not connect (attempt {self.starts})")


async def test_failed_attempts_are_retried_with_capped_jittered_backoff_then_sessions_resume_once() -> None:
    exchange = FakeExchange(failures=6)
    resumed: list[int] = []

    async def resume() -> None:
        resumed.append(exchange.starts)

    connector = VenueConnector(
        exchange,
        resume,
        retry_base_ms=4,
        retry_max_ms=16,
        rng=random.Random(3),
    )
    with captured_logs("INFO") as logs:
        connector.start()
        assert await connector.wait_ready(10.0)
    assert connector.state is VenueState.READY
    assert resumed == [7]
    assert connector.attempts == 7
    connector.require_ready()  # no longer refuses
    events = [json.loads(line) for line in logs.getvalue().splitlines()]
    delays = [e["retry_in_ms"] for e in events if e["event"] == "exchange_connect_failed"]
    assert len(delays) == 6
    for attempt, delay in enumerate(delays):
        assert 2 <= delay <= min(16, 4 * 2**attempt)
    assert len(set(delays)) > 1  # jittered, not a fixed schedule
    assert [e["event"] for e in events][-2:] == ["exchange_connected", "exchange_ready"]
    await connector.close()


async def test_calls_are_refused_unavailable_with_retry_info_and_the_failure_while_connecting() -> None:
    exchange = FakeExchange(failures=10**6)
    connector = VenueConnector(
        exchange,
        nothing,
        retry_base_ms=200,
        retry_max_ms=400,
    )
    assert connector.detail() == "not connected: attempt 1 under way"
    connector.start()
    await exchange.wait_starts(1)
    with pytest.raises(DomainError) as refused:
        connector.require_ready()
    error = refused.value
    assert error.reason == ErrorReason.EXCHANGE_UNAVAILABLE
    assert error.http_status == 503
    assert error.message.startswith(
        "the exchange is not connected: attempt 1 failed: ExchangeError: private stream did not connect "
        "(attempt 1)"
    )
    assert "; retrying in " in error.message
    assert error.retry_after_ms is not None
    assert error.retry_after_ms >= 200
    assert error.metadata == {"exchange_state": "connecting"}
    assert not await connector.wait_ready(0.01)
    await connector.close()
    with pytest.raises(DomainError) as closing:
        connector.require_ready()
    assert closing.value.reason == ErrorReason.SHUTTING_DOWN


async def test_close_during_an_attempt_cancels_it_promptly() -> None:
    exchange = FakeExchange(hang=True)
    connector = VenueConnector(exchange, nothing)
    connector.start()
    await exchange.wait_starts(1)
    await asyncio.wait_for(connector.close(), 1.0)
    assert exchange.cancelled.is_set()
    assert connector.state is VenueState.CLOSED
    assert not await connector.wait_ready(1.0)


async def test_a_refused_auth_is_retried_too_and_named_in_the_detail() -> None:
    class Refusing(FakeExchange):
        async def start(self) -> None:
            await super().start()
            raise AuthError("the venue refused the private stream's auth: bad key")

    exchange = Refusing()
    connector = VenueConnector(exchange, nothing, retry_base_ms=1, retry_max_ms=2)
    connector.start()
    await asyncio.wait_for(exchange.wait_starts(3), 5.0)
    assert "AuthError: the venue refused the private stream's auth" in connector.detail()
    assert connector.state is VenueState.CONNECTING
    await connector.close()


async def test_a_failed_resume_is_not_run_again_and_never_reports_ready() -> None:
    calls = 0

    async def resume() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("store unavailable")

    connector = VenueConnector(FakeExchange(), resume)
    with captured_logs("INFO") as logs:
        connector.start()
        assert not await connector.wait_ready(5.0)
    assert connector.state is VenueState.FAILED
    assert calls == 1
    assert "restart the service" in connector.detail()
    assert '"event": "exchange_resume_failed"' in logs.getvalue()
    with pytest.raises(DomainError) as refused:
        connector.require_ready()
    assert refused.value.reason == ErrorReason.EXCHANGE_UNAVAILABLE
    await connector.close()


def test_backoff_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="retry_max_ms"):
        VenueConnector(FakeExchange(), nothing, retry_base_ms=100, retry_max_ms=10)
