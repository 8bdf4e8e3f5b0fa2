"""Adapter configuration: where the venue is, who we are, and how patient to be."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.exchange import constants as c
from server.exchange.auth import OrderlyCredentials


@dataclass(frozen=True, slots=True)
class OrderlyConfig:
    rest_url: str = c.TESTNET_REST_URL
    public_ws_url: str = c.TESTNET_PUBLIC_WS_URL  # without the trailing "/<id>"
    private_ws_url: str = c.TESTNET_PRIVATE_WS_URL  # without the trailing "/<account_id>"
    credentials: OrderlyCredentials | None = field(default=None, repr=True)
    request_timeout_ms: int = 10_000
    max_read_attempts: int = 4  # GETs and cancels: retried on 429/5xx/network errors
    max_place_attempts: int = 3  # placements: re-sent only when the venue proved it did not place
    retry_base_ms: int = 100
    retry_max_ms: int = 2_000
    resolve_attempts: int = 3  # client_order_id look-ups after an ambiguous placement
    resolve_interval_ms: int = 200
    rate_limit_margin_ms: int = 50
    rate_limits: Mapping[str, c.RateLimit] = field(default_factory=lambda: dict(c.RATE_LIMITS))
    rules_ttl_ms: int = 300_000
    mark_price_max_age_ms: int = 5_000
    ws_ping_interval_ms: int = 10_000
    ws_silence_timeout_ms: int = 30_000
    # How long a (re)connect waits for the venue's answer to its auth and subscriptions before it
    # tries again: a handshake swallowed by a stalled venue costs this, not the silence timeout.
    ws_handshake_timeout_ms: int = 5_000
    ws_reconnect_base_ms: int = 250
    ws_reconnect_max_ms: int = 10_000
    # How long start() waits for the private stream's first handshake (None: 3 x request_timeout_ms).
    connect_timeout_ms: int | None = None
    reconcile_interval_ms: int = 15_000  # periodic REST reconciliation (0 = only after (re)connects)
    reconcile_overlap_ms: int = 60_000  # look back this far past the last reconciliation for trades
    seed: int | None = None  # reconnect jitter; set for reproducible tests

    def __post_init__(self) -> None:
        for name in ("rest_url", "public_ws_url", "private_ws_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://", "ws://", "wss://")):
                raise ValueError(f"{name}: must be an http(s):// or ws(s):// URL, got {value!r}")
            object.__setattr__(self, name, value.rstrip("/"))
        for name in ("request_timeout_ms", "max_read_attempts", "max_place_attempts", "resolve_attempts"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive")
        if self.connect_timeout_ms is not None and self.connect_timeout_ms <= 0:
            raise ValueError("connect_timeout_ms: must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> OrderlyConfig:
        """Build from ORDERLY_* variables; hosts default to testnet, credentials are optional."""
        values = os.environ if env is None else env
        credentials = None
        if values.get("ORDERLY_ACCOUNT_ID") and values.get("ORDERLY_SECRET"):
            credentials = OrderlyCredentials(
                values["ORDERLY_ACCOUNT_ID"], values.get("ORDERLY_KEY", ""), values["ORDERLY_SECRET"]
            )
        kwargs: dict[str, object] = {
            "rest_url": values.get("ORDERLY_REST_URL", c.TESTNET_REST_URL),
            "public_ws_url": values.get("ORDERLY_PUBLIC_WS_URL", c.TESTNET_PUBLIC_WS_URL),
            "private_ws_url": values.get("ORDERLY_PRIVATE_WS_URL", c.TESTNET_PRIVATE_WS_URL),
            "credentials": credentials,
        }
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]
