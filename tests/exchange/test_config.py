"""Configuration from the environment, and the reconnect backoff."""

from __future__ import annotations

import random

import pytest

from server.exchange import OrderlyConfig
from server.exchange.constants import TESTNET_PRIVATE_WS_URL, TESTNET_REST_URL
from server.exchange.ws import backoff_ms
from tests.exchange.test_auth_vectors import ACCOUNT_ID, KEY, SECRET


def test_defaults_point_at_testnet_without_credentials() -> None:
    config = OrderlyConfig.from_env({})
    assert (config.rest_url, config.private_ws_url, config.credentials) == (
        TESTNET_REST_URL,
        TESTNET_PRIVATE_WS_URL,
        None,
    )


def test_env_sets_hosts_and_credentials_and_repr_hides_the_secret() -> None:
    env = {
        "ORDERLY_REST_URL": "http://127.0.0.1:9/",
        "ORDERLY_PUBLIC_WS_URL": "ws://127.0.0.1:9/ws/stream",
        "ORDERLY_PRIVATE_WS_URL": "ws://127.0.0.1:9/v2/ws/private/stream",
        "ORDERLY_ACCOUNT_ID": ACCOUNT_ID,
        "ORDERLY_KEY": KEY,
        "ORDERLY_SECRET": SECRET,
    }
    config = OrderlyConfig.from_env(env)
    assert config.rest_url == "http://127.0.0.1:9"  # trailing slash dropped: paths are signed as sent
    assert config.credentials is not None
    assert config.credentials.account_id == ACCOUNT_ID
    assert SECRET not in repr(config)


def test_bad_url_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="rest_url"):
        OrderlyConfig(rest_url="api.orderly.org")


def test_backoff_grows_exponentially_is_capped_and_is_reproducible_with_a_seed() -> None:
    first = [backoff_ms(attempt, 100, 2_000, random.Random(5)) for attempt in range(8)]
    again = [backoff_ms(attempt, 100, 2_000, random.Random(5)) for attempt in range(8)]
    assert first == again
    rng = random.Random(1)
    samples = [backoff_ms(attempt, 100, 2_000, rng) for attempt in range(12) for _ in range(50)]
    assert min(samples) >= 50
    assert max(samples) <= 2_000
    late = [backoff_ms(10, 100, 2_000, rng) for _ in range(200)]
    assert max(late) > 1_000  # the ceiling really grew
