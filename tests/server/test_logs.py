from __future__ import annotations

import io
import json

from server.logs import configure_logging, get_logger


def test_secret_fields_are_redacted_and_context_is_kept() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    get_logger("test").info(
        "credentials_stored",
        session_id="0xabc_BTCUSDT",
        orderly_secret="ed25519:5ecret",
        user_signature="0xdeadbeef",
    )
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["session_id"] == "0xabc_BTCUSDT"
    assert line["orderly_secret"] == "[redacted]"
    assert line["user_signature"] == "[redacted]"
    assert "5ecret" not in stream.getvalue()
    assert line["level"] == "info"


def test_debug_is_filtered_below_the_configured_level() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    get_logger("test").info("quiet")
    get_logger("test").warning("loud")
    events = [json.loads(raw)["event"] for raw in stream.getvalue().strip().splitlines()]
    assert events == ["loud"]
