"""The server's settings, read once from the environment at start-up.

Every variable is validated here, so a bad deployment fails at start with a message naming the
variable and the rule, instead of later inside a request. Secrets (the Orderly secret, the operator
token, the master key, the MongoDB URI, which may hold a password) are kept out of `repr`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from server.api.forwarding import parse_trusted_proxies

DEFAULT_GRPC_PORT = 50051
DEFAULT_REST_PORT = 8001
DEFAULT_SHUTDOWN_GRACE_S = 10.0
DEFAULT_EXCHANGE_START_WAIT_MS = 10_000
DEFAULT_EXCHANGE_RETRY_BASE_MS = 1_000
DEFAULT_EXCHANGE_RETRY_MAX_MS = 30_000
_MAX_DURATION_MS = 3_600_000
DEFAULT_PEER_RATE_LIMIT_PER_MIN = 60
DEFAULT_USER_RATE_LIMIT_PER_MIN = 10
DEFAULT_PREVIEW_RATE_LIMIT_PER_MIN = 120
DEFAULT_AUTH_FAILURE_LIMIT_PER_MIN = 30
DEFAULT_MAX_STREAMS_PER_USER = 10
DEFAULT_REST_HEADER_TIMEOUT_S = 10.0
DEFAULT_REST_BODY_TIMEOUT_S = 30.0
DEFAULT_REST_MAX_BODY_BYTES = 1024 * 1024
_MAX_PER_MIN = 1_000_000
_MAX_BODY_BYTES = 64 * 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_ORDERLY_CREDENTIAL_VARS = ("ORDERLY_ACCOUNT_ID", "ORDERLY_KEY", "ORDERLY_SECRET")
_URL_SCHEMES = {
    "ORDERLY_REST_URL": ("http://", "https://"),
    "ORDERLY_PUBLIC_WS_URL": ("ws://", "wss://"),
    "ORDERLY_PRIVATE_WS_URL": ("ws://", "wss://"),
}

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable holds a value the server cannot run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    grpc_host: str = "127.0.0.1"
    grpc_port: int = DEFAULT_GRPC_PORT
    rest_host: str = "127.0.0.1"
    rest_port: int = DEFAULT_REST_PORT
    # Where the REST shim finds the gRPC server when it runs as its own process; None means the
    # shim runs in the gRPC server's process and uses `local_grpc_target`.
    grpc_target: str | None = None
    mongodb_uri: str | None = field(default=None, repr=False)
    data_dir: Path = Path("./data")
    orderly_account_id: str | None = None
    orderly_key: str | None = None
    orderly_secret: str | None = field(default=None, repr=False)
    # None means the exchange adapter's default (testnet) or, with the simulator, the simulator's URL.
    orderly_rest_url: str | None = None
    orderly_public_ws_url: str | None = None
    orderly_private_ws_url: str | None = None
    log_level: str = "INFO"
    shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
    legacy_auth_enabled: bool = False
    operator_token: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    # The `Domain:` line of every signed request (GRID_AUTH_DOMAIN): a signature for one deployment
    # does not verify on another that uses a different domain.
    auth_domain: str = "orderly-grid"
    # Session keys (server.auth.session_keys): the EIP-712 chain id of their authorizations
    # (GRID_AUTH_CHAIN_ID) and how long a process trusts a key it read from the store before reading
    # it again (GRID_SESSION_KEY_CACHE_MS): the bound on another instance's revocation reaching it.
    auth_chain_id: int = 1
    session_key_cache_ms: int = 5_000
    # The venue being slow or down never stops the service (server.service.venue_connector): it
    # serves, reports the exchange not ready, and retries connecting with capped exponential backoff
    # and jitter. Start-up waits at most `exchange_start_wait_ms` for the exchange before it reports
    # serving without it; `exchange_connect_timeout_ms` bounds one attempt's wait for the private
    # stream (None: the adapter's default).
    exchange_start_wait_ms: int = DEFAULT_EXCHANGE_START_WAIT_MS
    exchange_retry_base_ms: int = DEFAULT_EXCHANGE_RETRY_BASE_MS
    exchange_retry_max_ms: int = DEFAULT_EXCHANGE_RETRY_MAX_MS
    exchange_connect_timeout_ms: int | None = None
    # Who may tell the gRPC server a call's client address (x-forwarded-for): the REST shim of this
    # process always (it proves itself with a per-process secret), and the proxies listed here,
    # addresses or networks, e.g. a shim run as its own process (server.api.forwarding).
    trusted_proxies: tuple[str, ...] = ()
    # Per-address and per-wallet limits per minute (server.auth.rate_limits): StartGrid, StopGrid and
    # RegisterAccount per address and per wallet, PreviewGrid per address, failed authentications
    # per address.
    peer_rate_limit_per_min: int = DEFAULT_PEER_RATE_LIMIT_PER_MIN
    user_rate_limit_per_min: int = DEFAULT_USER_RATE_LIMIT_PER_MIN
    preview_rate_limit_per_min: int = DEFAULT_PREVIEW_RATE_LIMIT_PER_MIN
    auth_failure_limit_per_min: int = DEFAULT_AUTH_FAILURE_LIMIT_PER_MIN
    # Concurrent WatchFills streams of one wallet on this process.
    max_streams_per_user: int = DEFAULT_MAX_STREAMS_PER_USER
    # The REST shim's protection from slow and large requests (server.rest.limits).
    rest_header_timeout_s: float = DEFAULT_REST_HEADER_TIMEOUT_S
    rest_body_timeout_s: float = DEFAULT_REST_BODY_TIMEOUT_S
    rest_max_body_bytes: int = DEFAULT_REST_MAX_BODY_BYTES

    @property
    def use_simulator(self) -> bool:
        """True when no Orderly credentials are configured: the server trades on its own simulator."""
        return self.orderly_account_id is None

    @property
    def local_grpc_target(self) -> str:
        """The gRPC target the REST shim uses: GRID_GRPC_TARGET, else this process's gRPC address
        (a wildcard bind address is reached over loopback)."""
        if self.grpc_target is not None:
            return self.grpc_target
        host = "127.0.0.1" if self.grpc_host in ("", "0.0.0.0", "::", "[::]") else self.grpc_host
        return f"{host}:{self.grpc_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; unset or empty variables take the defaults.
        Raises SettingsError naming the variable and the rule it breaks."""
        env = {key: value.strip() for key, value in environ.items() if value.strip()}
        _check_credentials(env)
        for name, schemes in _URL_SCHEMES.items():
            if name in env and not env[name].startswith(schemes):
                raise SettingsError(f"{name}: must start with {' or '.join(schemes)}, got {env[name]!r}")
        retry_base_ms = _parsed(
            env, "GRID_EXCHANGE_RETRY_BASE_MS", _positive_duration_ms, DEFAULT_EXCHANGE_RETRY_BASE_MS
        )
        retry_max_ms = _parsed(
            env,
            "GRID_EXCHANGE_RETRY_MAX_MS",
            _positive_duration_ms,
            max(retry_base_ms, DEFAULT_EXCHANGE_RETRY_MAX_MS),
        )
        if retry_max_ms < retry_base_ms:
            raise SettingsError(
                "GRID_EXCHANGE_RETRY_MAX_MS: must not be less than "
                f"GRID_EXCHANGE_RETRY_BASE_MS ({retry_base_ms})"
            )
        return cls(
            grpc_host=env.get("GRID_GRPC_HOST", "127.0.0.1"),
            grpc_port=_parsed(env, "GRID_GRPC_PORT", _port, DEFAULT_GRPC_PORT),
            rest_host=env.get("GRID_REST_HOST", "127.0.0.1"),
            rest_port=_parsed(env, "GRID_REST_PORT", _port, DEFAULT_REST_PORT),
            grpc_target=env.get("GRID_GRPC_TARGET"),
            mongodb_uri=_parsed(env, "MONGODB_URI", _mongodb_uri, None),
            data_dir=Path(env.get("GRID_DATA_DIR", "./data")),
            orderly_account_id=env.get("ORDERLY_ACCOUNT_ID"),
            orderly_key=env.get("ORDERLY_KEY"),
            orderly_secret=env.get("ORDERLY_SECRET"),
            orderly_rest_url=env.get("ORDERLY_REST_URL"),
            orderly_public_ws_url=env.get("ORDERLY_PUBLIC_WS_URL"),
            orderly_private_ws_url=env.get("ORDERLY_PRIVATE_WS_URL"),
            log_level=_parsed(env, "GRID_LOG_LEVEL", _log_level, "INFO"),
            shutdown_grace_s=_parsed(env, "GRID_SHUTDOWN_GRACE_S", _grace_s, DEFAULT_SHUTDOWN_GRACE_S),
            legacy_auth_enabled=_parsed(env, "GRID_LEGACY_AUTH", _flag, False),
            operator_token=env.get("GRID_OPERATOR_TOKEN"),
            master_key=env.get("GRID_MASTER_KEY"),
            auth_domain=_parsed(env, "GRID_AUTH_DOMAIN", _auth_domain, "orderly-grid"),
            auth_chain_id=_parsed(
                env, "GRID_AUTH_CHAIN_ID", lambda text: _bounded_int(text, 1, 2**53, "chain id"), 1
            ),
            session_key_cache_ms=_parsed(
                env, "GRID_SESSION_KEY_CACHE_MS", lambda text: _bounded_int(text, 0, 60_000, "ms"), 5_000
            ),
            exchange_start_wait_ms=_parsed(
                env, "GRID_EXCHANGE_START_WAIT_MS", _duration_ms, DEFAULT_EXCHANGE_START_WAIT_MS
            ),
            exchange_retry_base_ms=retry_base_ms,
            exchange_retry_max_ms=retry_max_ms,
            exchange_connect_timeout_ms=_parsed(
                env, "GRID_EXCHANGE_CONNECT_TIMEOUT_MS", _positive_duration_ms, None
            ),
            trusted_proxies=_parsed(env, "GRID_TRUSTED_PROXIES", parse_trusted_proxies, ()),
            peer_rate_limit_per_min=_parsed(
                env, "GRID_RATE_LIMIT_PEER_PER_MIN", _per_min, DEFAULT_PEER_RATE_LIMIT_PER_MIN
            ),
            user_rate_limit_per_min=_parsed(
                env, "GRID_RATE_LIMIT_USER_PER_MIN", _per_min, DEFAULT_USER_RATE_LIMIT_PER_MIN
            ),
            preview_rate_limit_per_min=_parsed(
                env, "GRID_RATE_LIMIT_PREVIEW_PER_MIN", _per_min, DEFAULT_PREVIEW_RATE_LIMIT_PER_MIN
            ),
            auth_failure_limit_per_min=_parsed(
                env, "GRID_RATE_LIMIT_AUTH_FAILURES_PER_MIN", _per_min, DEFAULT_AUTH_FAILURE_LIMIT_PER_MIN
            ),
            max_streams_per_user=_parsed(
                env, "GRID_MAX_STREAMS_PER_USER", _stream_count, DEFAULT_MAX_STREAMS_PER_USER
            ),
            rest_header_timeout_s=_parsed(
                env, "GRID_REST_HEADER_TIMEOUT_S", _timeout_s, DEFAULT_REST_HEADER_TIMEOUT_S
            ),
            rest_body_timeout_s=_parsed(
                env, "GRID_REST_BODY_TIMEOUT_S", _timeout_s, DEFAULT_REST_BODY_TIMEOUT_S
            ),
            rest_max_body_bytes=_parsed(
                env, "GRID_REST_MAX_BODY_BYTES", _body_bytes, DEFAULT_REST_MAX_BODY_BYTES
            ),
        )


def _parsed(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    if name not in env:
        return default
    try:
        return parse(env[name])
    except ValueError as exc:
        # The rule, not the value: some of these variables hold secrets.
        raise SettingsError(f"{name}: {exc}") from None


def _check_credentials(env: Mapping[str, str]) -> None:
    present = [name for name in _ORDERLY_CREDENTIAL_VARS if name in env]
    if present and len(present) != len(_ORDERLY_CREDENTIAL_VARS):
        missing = [name for name in _ORDERLY_CREDENTIAL_VARS if name not in env]
        raise SettingsError(
            f"{', '.join(missing)}: must be set together with {', '.join(present)} "
            "(set all Orderly credentials, or none to use the simulator)"
        )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"must be an integer port in [0, 65535], got {text!r}")
    return int(text)


def _mongodb_uri(text: str) -> str:
    if not text.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError("must start with mongodb:// or mongodb+srv://")
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") or level not in (
        logging.getLevelNamesMapping()
    ):
        raise ValueError(f"must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {text!r}")
    return level


def _grace_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {text!r}") from None
    if not 0 <= value <= 3600:
        raise ValueError(f"must be between 0 and 3600 seconds, got {text!r}")
    return value


def _duration_ms(text: str) -> int:
    if not text.isdigit() or int(text) > _MAX_DURATION_MS:
        raise ValueError(
            f"must be an integer number of milliseconds in [0, {_MAX_DURATION_MS}], got {text!r}"
        )
    return int(text)


def _positive_duration_ms(text: str) -> int:
    value = _duration_ms(text)
    if value == 0:
        raise ValueError("must be a positive number of milliseconds, got '0'")
    return value


def _bounded_int(text: str, low: int, high: int, unit: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"must be an integer number of {unit} in [{low}, {high}], got {text!r}")
    return int(text)


def _per_min(text: str) -> int:
    return _bounded_int(text, 1, _MAX_PER_MIN, "calls per minute")


def _stream_count(text: str) -> int:
    return _bounded_int(text, 1, 10_000, "streams")


def _body_bytes(text: str) -> int:
    return _bounded_int(text, 1024, _MAX_BODY_BYTES, "bytes")


def _timeout_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {text!r}") from None
    if not 0.1 <= value <= 3600:  # NaN fails this too
        raise ValueError(f"must be between 0.1 and 3600 seconds, got {text!r}")
    return value


def _auth_domain(text: str) -> str:
    # One line of the signed text: a newline would let a domain forge the lines after it.
    if len(text) > 128 or not text.isprintable():
        raise ValueError("must be at most 128 printable characters on one line")
    return text


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"must be one of 1/true/yes/on or 0/false/no/off, got {text!r}")
