from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError

CREDENTIALS = {
    "ORDERLY_ACCOUNT_ID": "0xabc",
    "ORDERLY_KEY": "ed25519:pub",
    "ORDERLY_SECRET": "ed25519:very-secret-value",
}


def test_empty_environment_gives_defaults_and_the_simulator() -> None:
    settings = Settings.from_env({})
    assert settings.grpc_host == "127.0.0.1"
    assert settings.grpc_port == 50051
    assert settings.rest_port == 8001
    assert settings.mongodb_uri is None
    assert settings.data_dir == Path("./data")
    assert settings.log_level == "INFO"
    assert settings.legacy_auth_enabled is False
    assert settings.use_simulator is True
    assert settings.local_grpc_target == "127.0.0.1:50051"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "GRID_GRPC_HOST": "0.0.0.0",
            "GRID_GRPC_PORT": "6000",
            "GRID_REST_HOST": "0.0.0.0",
            "GRID_REST_PORT": "0",
            "MONGODB_URI": "mongodb://db:27017/grid",
            "GRID_DATA_DIR": "/var/lib/grid",
            "ORDERLY_REST_URL": "http://127.0.0.1:9000",
            "ORDERLY_PUBLIC_WS_URL": "ws://127.0.0.1:9000/ws/stream",
            "ORDERLY_PRIVATE_WS_URL": "ws://127.0.0.1:9000/v2/ws/private/stream",
            "GRID_LOG_LEVEL": "debug",
            "GRID_SHUTDOWN_GRACE_S": "2.5",
            "GRID_LEGACY_AUTH": "yes",
            "GRID_OPERATOR_TOKEN": "op-token",
            "GRID_MASTER_KEY": "master",
            **CREDENTIALS,
        }
    )
    assert (settings.grpc_host, settings.grpc_port) == ("0.0.0.0", 6000)
    assert (settings.rest_host, settings.rest_port) == ("0.0.0.0", 0)
    assert settings.mongodb_uri == "mongodb://db:27017/grid"
    assert settings.data_dir == Path("/var/lib/grid")
    assert settings.orderly_rest_url == "http://127.0.0.1:9000"
    assert settings.orderly_private_ws_url == "ws://127.0.0.1:9000/v2/ws/private/stream"
    assert settings.log_level == "DEBUG"
    assert settings.shutdown_grace_s == 2.5
    assert settings.legacy_auth_enabled is True
    assert settings.operator_token == "op-token"
    assert settings.master_key == "master"
    assert settings.use_simulator is False
    # A wildcard bind address is reached over loopback by the in-process REST shim.
    assert settings.local_grpc_target == "127.0.0.1:6000"


def test_explicit_grpc_target_is_used_by_the_shim() -> None:
    settings = Settings.from_env({"GRID_GRPC_TARGET": "grid-grpc:50051"})
    assert settings.local_grpc_target == "grid-grpc:50051"


def test_empty_mongodb_uri_means_the_embedded_store() -> None:
    assert Settings.from_env({"MONGODB_URI": "  "}).mongodb_uri is None


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings.from_env(
        {
            **CREDENTIALS,
            "GRID_OPERATOR_TOKEN": "op-token-xyz",
            "GRID_MASTER_KEY": "master-key-xyz",
            "MONGODB_URI": "mongodb://user:db-password@db/grid",
        }
    )
    text = repr(settings)
    for secret in ("very-secret-value", "op-token-xyz", "master-key-xyz", "db-password"):
        assert secret not in text
    assert "0xabc" in text  # the account id is not a secret


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("GRID_GRPC_PORT", "70000", "[0, 65535]"),
        ("GRID_REST_PORT", "http", "integer port"),
        ("GRID_LOG_LEVEL", "LOUD", "one of DEBUG"),
        ("GRID_SHUTDOWN_GRACE_S", "-1", "between 0 and 3600"),
        ("GRID_SHUTDOWN_GRACE_S", "soon", "number of seconds"),
        ("GRID_LEGACY_AUTH", "maybe", "1/true/yes/on"),
        ("MONGODB_URI", "postgres://db", "mongodb://"),
        ("ORDERLY_REST_URL", "ftp://x", "http:// or https://"),
        ("ORDERLY_PUBLIC_WS_URL", "http://x", "ws:// or wss://"),
        ("GRID_EXCHANGE_START_WAIT_MS", "-5", "milliseconds in [0, 3600000]"),
        ("GRID_EXCHANGE_RETRY_BASE_MS", "0", "positive number of milliseconds"),
        ("GRID_EXCHANGE_RETRY_MAX_MS", "1.5", "integer number of milliseconds"),
        ("GRID_EXCHANGE_CONNECT_TIMEOUT_MS", "0", "positive number of milliseconds"),
    ],
)
def test_invalid_value_names_the_variable_and_the_rule(variable: str, value: str, rule: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(f"{variable}: ")
    assert rule in str(raised.value)


def test_partial_credentials_name_the_missing_variables_without_the_secret() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"ORDERLY_ACCOUNT_ID": "0xabc", "ORDERLY_SECRET": "ed25519:very-secret-value"})
    message = str(raised.value)
    assert message.startswith("ORDERLY_KEY: ")
    assert "very-secret-value" not in message


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.grpc_port = 1  # type: ignore[misc]


def test_auth_domain_defaults_to_orderly_grid_and_is_read_from_grid_auth_domain() -> None:
    assert Settings.from_env({}).auth_domain == "orderly-grid"
    assert Settings.from_env({"GRID_AUTH_DOMAIN": "grid.example.com"}).auth_domain == "grid.example.com"


def test_an_auth_domain_with_a_control_character_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="GRID_AUTH_DOMAIN: must be at most 128 printable"):
        Settings.from_env({"GRID_AUTH_DOMAIN": "grid\x07x"})


def test_the_exchange_connection_is_retried_with_defaults_unless_configured() -> None:
    defaults = Settings.from_env({})
    assert defaults.exchange_start_wait_ms == 10_000
    assert (defaults.exchange_retry_base_ms, defaults.exchange_retry_max_ms) == (1_000, 30_000)
    assert defaults.exchange_connect_timeout_ms is None
    configured = Settings.from_env(
        {
            "GRID_EXCHANGE_START_WAIT_MS": "0",
            "GRID_EXCHANGE_RETRY_BASE_MS": "50",
            "GRID_EXCHANGE_RETRY_MAX_MS": "200",
            "GRID_EXCHANGE_CONNECT_TIMEOUT_MS": "300",
        }
    )
    assert configured.exchange_start_wait_ms == 0
    assert (configured.exchange_retry_base_ms, configured.exchange_retry_max_ms) == (50, 200)
    assert configured.exchange_connect_timeout_ms == 300
    # A base above the default maximum raises the maximum with it.
    assert Settings.from_env({"GRID_EXCHANGE_RETRY_BASE_MS": "60000"}).exchange_retry_max_ms == 60_000


def test_a_retry_maximum_below_the_base_is_refused_naming_both_variables() -> None:
    with pytest.raises(SettingsError, match=r"GRID_EXCHANGE_RETRY_MAX_MS: .*GRID_EXCHANGE_RETRY_BASE_MS"):
        Settings.from_env({"GRID_EXCHANGE_RETRY_BASE_MS": "500", "GRID_EXCHANGE_RETRY_MAX_MS": "100"})


def test_limits_and_trusted_proxies_have_defaults_unless_configured() -> None:
    defaults = Settings.from_env({})
    assert defaults.trusted_proxies == ()  # only the shim of this process (by its secret)
    assert (defaults.peer_rate_limit_per_min, defaults.user_rate_limit_per_min) == (60, 10)
    assert (defaults.preview_rate_limit_per_min, defaults.auth_failure_limit_per_min) == (120, 30)
    assert defaults.max_streams_per_user == 10
    assert (defaults.rest_header_timeout_s, defaults.rest_body_timeout_s) == (10.0, 30.0)
    assert defaults.rest_max_body_bytes == 1024 * 1024
    configured = Settings.from_env(
        {
            "GRID_TRUSTED_PROXIES": "10.0.0.5, 192.168.0.0/16",
            "GRID_RATE_LIMIT_PEER_PER_MIN": "100",
            "GRID_RATE_LIMIT_USER_PER_MIN": "20",
            "GRID_RATE_LIMIT_PREVIEW_PER_MIN": "300",
            "GRID_RATE_LIMIT_AUTH_FAILURES_PER_MIN": "5",
            "GRID_MAX_STREAMS_PER_USER": "3",
            "GRID_REST_HEADER_TIMEOUT_S": "2.5",
            "GRID_REST_BODY_TIMEOUT_S": "5",
            "GRID_REST_MAX_BODY_BYTES": "65536",
        }
    )
    assert configured.trusted_proxies == ("10.0.0.5/32", "192.168.0.0/16")
    assert (configured.peer_rate_limit_per_min, configured.user_rate_limit_per_min) == (100, 20)
    assert (configured.preview_rate_limit_per_min, configured.auth_failure_limit_per_min) == (300, 5)
    assert configured.max_streams_per_user == 3
    assert (configured.rest_header_timeout_s, configured.rest_body_timeout_s) == (2.5, 5.0)
    assert configured.rest_max_body_bytes == 65536


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("GRID_TRUSTED_PROXIES", "127.0.0.1, localhost", "IP addresses or networks"),
        ("GRID_RATE_LIMIT_PEER_PER_MIN", "0", "calls per minute in [1, 1000000]"),
        ("GRID_RATE_LIMIT_PREVIEW_PER_MIN", "many", "calls per minute"),
        ("GRID_RATE_LIMIT_AUTH_FAILURES_PER_MIN", "-1", "calls per minute"),
        ("GRID_MAX_STREAMS_PER_USER", "0", "streams in [1, 10000]"),
        ("GRID_REST_HEADER_TIMEOUT_S", "0", "between 0.1 and 3600 seconds"),
        ("GRID_REST_BODY_TIMEOUT_S", "nan", "between 0.1 and 3600 seconds"),
        ("GRID_REST_MAX_BODY_BYTES", "10", "bytes in [1024, 67108864]"),
    ],
)
def test_an_invalid_limit_names_the_variable_and_the_rule(variable: str, value: str, rule: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(f"{variable}: ")
    assert rule in str(raised.value)
