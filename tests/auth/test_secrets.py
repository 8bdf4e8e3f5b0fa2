import base64
import pickle

import pytest

from server.auth import SecretBox, SecretBoxError, parse_master_key

KEY = bytes(range(32))
USER = "0x5d5c99edf529335160ff180fa141dd4967fc00d2"
ACCOUNT = "0x" + "ab" * 32
SECRET = "ed25519:4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi"


def test_a_sealed_secret_opens_for_its_user_and_account() -> None:
    box = SecretBox(KEY)
    envelope = box.seal(SECRET, user_id=USER, account_id=ACCOUNT)
    assert envelope.startswith("v1:")
    assert SECRET not in envelope
    assert box.open(envelope, user_id=USER, account_id=ACCOUNT) == SECRET
    assert box.open(envelope, user_id=USER.upper().replace("0X", "0x"), account_id=ACCOUNT) == SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    box = SecretBox(KEY)
    assert box.seal(SECRET, user_id=USER, account_id=ACCOUNT) != box.seal(
        SECRET, user_id=USER, account_id=ACCOUNT
    )


def test_a_tampered_envelope_does_not_open() -> None:
    box = SecretBox(KEY)
    raw = bytearray(base64.b64decode(box.seal(SECRET, user_id=USER, account_id=ACCOUNT)[3:]))
    raw[20] ^= 0x01
    with pytest.raises(SecretBoxError, match="does not authenticate"):
        box.open("v1:" + base64.b64encode(bytes(raw)).decode(), user_id=USER, account_id=ACCOUNT)


@pytest.mark.parametrize(
    ("user_id", "account_id"),
    [("0x" + "11" * 20, ACCOUNT), (USER, "0x" + "cd" * 32)],
)
def test_an_envelope_moved_to_another_user_or_account_does_not_open(user_id: str, account_id: str) -> None:
    box = SecretBox(KEY)
    envelope = box.seal(SECRET, user_id=USER, account_id=ACCOUNT)
    with pytest.raises(SecretBoxError):
        box.open(envelope, user_id=user_id, account_id=account_id)


def test_another_master_key_does_not_open_the_envelope() -> None:
    envelope = SecretBox(KEY).seal(SECRET, user_id=USER, account_id=ACCOUNT)
    with pytest.raises(SecretBoxError):
        SecretBox(bytes(32)).open(envelope, user_id=USER, account_id=ACCOUNT)


@pytest.mark.parametrize(
    ("envelope", "rule"),
    [
        ("v2:AAAA", "unknown version"),
        ("v1:not base64!", "not base64"),
        ("v1:AAAA", "too short"),
        ("", "version"),
    ],
)
def test_malformed_envelopes_are_named(envelope: str, rule: str) -> None:
    with pytest.raises(SecretBoxError, match=rule):
        SecretBox(KEY).open(envelope, user_id=USER, account_id=ACCOUNT)


def test_the_master_key_setting_is_base64_of_32_bytes() -> None:
    assert parse_master_key(base64.b64encode(KEY).decode()) == KEY
    with pytest.raises(SecretBoxError, match="32 bytes"):
        parse_master_key(base64.b64encode(bytes(16)).decode())
    with pytest.raises(SecretBoxError, match="base64"):
        parse_master_key("not-base64-at-all!")
    assert SecretBox.from_setting(None) is None
    assert SecretBox.from_setting("  ") is None
    assert SecretBox.from_setting(base64.b64encode(KEY).decode()) is not None


def test_the_box_shows_and_ships_nothing_of_its_key() -> None:
    box = SecretBox(KEY)
    assert repr(box) == "SecretBox(key=***)"
    with pytest.raises(TypeError):
        pickle.dumps(box)
    with pytest.raises(SecretBoxError) as caught:
        parse_master_key(base64.b64encode(bytes(range(16))).decode())
    assert base64.b64encode(bytes(range(16))).decode() not in str(caught.value)
