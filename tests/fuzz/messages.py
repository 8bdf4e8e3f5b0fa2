"""Hypothesis strategies for gRPC request messages, built as raw protobuf wire bytes so that they can
carry what the generated classes refuse to build: invalid UTF-8 in strings, unknown enum numbers,
integers out of their field's range, wrong wire types, unknown and repeated fields.

A message is drawn either from scratch (any subset of its fields, each with a hostile or a plausible
value) or near a valid request of the method (`BASES`) with one to three fields replaced, so that the
fuzz reaches past the first validation rule. `raw_bytes` draws bytes that are not a message at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator.accounts import SimAccount
from tests.integration.harness import (
    A_SESSION,
    B_SESSION,
    OTHER_USER,
    SIGN_ME,
    SYMBOL,
    USER,
    auth,
    start_request,
)

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5
MAX_DEPTH = 3
Encoded: TypeAlias = tuple[int, int, bytes]
"""One field on the wire: (field number, wire type, the bytes after the tag: a varint, 8 or 4 bytes,
or the content of a length-delimited field without its length)."""

_T = FieldDescriptor
_VARINT_TYPES = frozenset(
    {_T.TYPE_INT32, _T.TYPE_INT64, _T.TYPE_UINT32, _T.TYPE_UINT64, _T.TYPE_BOOL, _T.TYPE_ENUM}
)
_ZIGZAG_TYPES = frozenset({_T.TYPE_SINT32, _T.TYPE_SINT64})
_DECIMAL_FIELDS = frozenset(
    {
        "current_price",
        "upper_bound",
        "lower_bound",
        "total_margin",
        "grid_ratio",
        "trigger_price",
        "stop_loss_price",
        "take_profit_price",
        "price_tolerance",
    }
)

# Decimal texts a parser can trip on: specials, exponents, digits of other scripts, separators,
# signs, whitespace, and values far beyond any field's range in size or digits.
NASTY_DECIMALS = (
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "-sNaN",
    "NaN123",
    "Infinity",
    "-Infinity",
    "inf",
    "-inf",
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "1E+999999999999999999",
    "1e-1000000000000000000",
    "9e9999",
    "1E+308",
    "4.25e4",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0E-1000",
    "-1",
    "-42500",
    "1e",
    "e5",
    ".",
    "-",
    "+",
    "1.",
    ".5",
    "+5",
    "--5",
    "1_000",
    "1,5",
    "0x1F",
    " 42500",
    "42500 ",
    "42500\n",
    "\u0664\u0662\u0665\u0660\u0660",  # Arabic-Indic digits: Decimal() accepts them
    "\uff14\uff12\uff15\uff10\uff10",  # full-width digits
    "4\u200b2500",  # a zero-width space inside
    "9" * 5000,
    "0." + "0" * 5000 + "1",
    "1" + "0" * 12,
    "999999999999.999999999999",
    "0.000000000001",
    "0.0000000000001",
    "42500.0000000000001",
    "1e12",
    "1e-12",
    "5e-324",
    "1.7976931348623157e308",
)

SPECIAL_TEXTS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e",  # right-to-left override
    "\ufeff",
    "🙂" * 3,
    "../../etc/passwd",
    "%s%n%x",
    "${jndi:ldap://x}",
    "' OR 1=1 --",
    '{"$gt": ""}',
    "$where",
    "null",
    "true",
    "[]",
    "{}",
    "\\",
    '"',
    "\r\n",
    "A" * 65,
)

# Byte strings that are not UTF-8: a lone continuation byte, truncated and overlong sequences, an
# encoded surrogate, a code point above U+10FFFF, 0xFF.
INVALID_UTF8 = (
    b"\x80",
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"PERP_BTC_\xff_USDC",
    b"42500\x80",
)

INTERESTING_INTS = (
    0,
    1,
    -1,
    2,
    6,
    100,
    500,
    501,
    2**31 - 1,
    -(2**31),
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**63,
    2**64 - 1,
    1_764_000_000_000,
    -1_764_000_000_000,
)


def varint(value: int) -> bytes:
    """Base-128 varint of `value` taken modulo 2^64 (a negative int is its 10-byte two's complement,
    as protobuf writes negative int32 and int64 values)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def encode(fields: list[Encoded]) -> bytes:
    out = bytearray()
    for number, wire_type, body in fields:
        out += varint(number << 3 | wire_type)
        if wire_type == WIRE_LEN:
            out += varint(len(body))
        out += body
    return bytes(out)


def _huge_texts() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, count: unit * count,
        st.sampled_from(["x", "9", "€", "\x00", "🙂", "0x", "[", "{"]),
        st.sampled_from([1_000, 4_097, 8_193, 20_000, 100_000]),
    )


def _texts_for(name: str, good: Mapping[str, list[str]]) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.text(max_size=40),
        st.sampled_from(SPECIAL_TEXTS),
        _huge_texts(),
    ]
    if name in _DECIMAL_FIELDS:
        options += [
            st.sampled_from(NASTY_DECIMALS),
            st.decimals(allow_nan=True, allow_infinity=True).map(str),
            st.floats().map(repr),
            st.integers(min_value=-(10**30), max_value=10**30).map(str),
        ]
    if name in good:
        options.append(st.sampled_from(good[name]))
    return st.one_of(options)


def _string_bodies(field: FieldDescriptor, good: Mapping[str, list[str]]) -> st.SearchStrategy[bytes]:
    text = _texts_for(field.name, good).map(lambda value: value.encode("utf-8", "surrogatepass"))
    return st.one_of(text, text, text, st.sampled_from(INVALID_UTF8), st.binary(max_size=32))


def _scalar(field: FieldDescriptor, good: Mapping[str, list[str]]) -> st.SearchStrategy[Encoded]:
    number = field.number
    if field.type in (_T.TYPE_STRING, _T.TYPE_BYTES):
        return _string_bodies(field, good).map(lambda body: (number, WIRE_LEN, body))
    if field.type in _VARINT_TYPES:
        values: list[st.SearchStrategy[int]] = [
            st.sampled_from(INTERESTING_INTS),
            st.integers(min_value=-(2**63), max_value=2**64 - 1),
        ]
        if field.enum_type is not None:  # known numbers, and numbers no enum value has
            values.append(
                st.sampled_from([v.number for v in field.enum_type.values] + [7, 99, -1, 2**31 - 1])
            )
        if field.type == _T.TYPE_BOOL:
            values.append(st.sampled_from([0, 1, 2, 255]))
        return st.one_of(values).map(lambda value: (number, WIRE_VARINT, varint(value)))
    if field.type in _ZIGZAG_TYPES:
        ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
        return ints.map(lambda value: (number, WIRE_VARINT, varint(zigzag(value))))
    if field.type in (_T.TYPE_DOUBLE, _T.TYPE_FIXED64, _T.TYPE_SFIXED64):
        return st.binary(min_size=8, max_size=8).map(lambda body: (number, WIRE_I64, body))
    return st.binary(min_size=4, max_size=4).map(lambda body: (number, WIRE_I32, body))


def _wrong_wire_type(field: FieldDescriptor) -> st.SearchStrategy[Encoded]:
    """The field's number with a payload of another wire type (or a truncated one)."""
    return st.one_of(
        st.integers(min_value=0, max_value=2**64 - 1).map(lambda v: (field.number, WIRE_VARINT, varint(v))),
        st.binary(max_size=16).map(lambda body: (field.number, WIRE_LEN, body)),
        st.binary(min_size=8, max_size=8).map(lambda body: (field.number, WIRE_I64, body)),
        st.binary(min_size=4, max_size=4).map(lambda body: (field.number, WIRE_I32, body)),
    )


def field_values(
    field: FieldDescriptor, good: Mapping[str, list[str]], depth: int = 0
) -> st.SearchStrategy[list[Encoded]]:
    """One to three occurrences of `field` (proto3 keeps the last scalar and merges messages)."""
    value: st.SearchStrategy[Encoded]
    if field.message_type is not None:
        if depth >= MAX_DEPTH:
            value = st.just((field.number, WIRE_LEN, b""))
        else:
            value = message_fields(field.message_type, good, depth + 1).map(
                lambda fields: (field.number, WIRE_LEN, encode(fields))
            )
    else:
        value = _scalar(field, good)
    occurrence = st.one_of(value, value, value, value, _wrong_wire_type(field))
    return st.lists(occurrence, min_size=1, max_size=3)


def _unknown_field() -> st.SearchStrategy[Encoded]:
    numbers = st.sampled_from([17, 99, 1000, 2**29 - 1, 19_000])  # 19000-19999 are reserved numbers
    return st.one_of(
        st.tuples(numbers, st.just(WIRE_VARINT), st.integers(0, 2**64 - 1).map(varint)),
        st.tuples(numbers, st.just(WIRE_LEN), st.binary(max_size=64)),
    )


def message_fields(
    descriptor: Descriptor, good: Mapping[str, list[str]], depth: int = 0
) -> st.SearchStrategy[list[Encoded]]:
    """Any subset of `descriptor`'s fields, in any order, plus perhaps unknown fields."""
    per_field = {field.name: field_values(field, good, depth) for field in descriptor.fields}
    chosen = st.fixed_dictionaries({}, optional=per_field)
    unknown = st.lists(_unknown_field(), max_size=2)

    def flatten(parts: tuple[dict[str, list[Encoded]], list[Encoded]]) -> list[Encoded]:
        chosen_fields, extra = parts
        return [encoded for occurrences in chosen_fields.values() for encoded in occurrences] + extra

    return st.tuples(chosen, unknown).map(flatten).flatmap(st.permutations)


def near(base: Message, good: Mapping[str, list[str]]) -> st.SearchStrategy[bytes]:
    """`base` with one to three of its fields (of any depth, for nested messages) given again with
    other values: the later occurrence wins for a scalar and merges into a message."""
    fields = list(cast(Descriptor, base.DESCRIPTOR).fields)
    overrides = st.lists(
        st.sampled_from(fields).flatmap(lambda field: field_values(field, good)),
        min_size=1,
        max_size=3,
    )
    prefix = base.SerializeToString()
    return overrides.map(lambda lists: prefix + encode([encoded for item in lists for encoded in item]))


def request_bytes(base: Message, good: Mapping[str, list[str]]) -> st.SearchStrategy[bytes]:
    """A request of `base`'s type: near `base`, exactly `base`, or built from scratch."""
    descriptor = cast(Descriptor, base.DESCRIPTOR)
    scratch = message_fields(descriptor, good).map(encode)
    if not descriptor.fields:  # an empty request: only unknown fields can vary
        return st.one_of(st.just(base.SerializeToString()), scratch)
    return st.one_of(near(base, good), near(base, good), st.just(base.SerializeToString()), scratch)


def raw_bytes(base: Message) -> st.SearchStrategy[bytes]:
    """Bytes that are (mostly) not a valid message: random, truncated valid ones, valid ones with a
    byte changed, huge lengths, deep nesting of length-delimited fields."""
    valid = base.SerializeToString()

    def truncated(cut: int) -> bytes:
        return valid[: cut % (len(valid) + 1)]

    def flipped(position: int, byte: int) -> bytes:
        if not valid:
            return bytes([byte])
        index = position % len(valid)
        return valid[:index] + bytes([byte]) + valid[index + 1 :]

    def nested(depth: int) -> bytes:
        """Field 1 holding field 1 holding ... `depth` levels (headers built inside out)."""
        headers: list[bytes] = []
        length = 0
        for _ in range(depth):
            header = varint(1 << 3 | WIRE_LEN) + varint(length)
            headers.append(header)
            length += len(header)
        return b"".join(reversed(headers))

    return st.one_of(
        st.binary(max_size=512),
        st.integers(min_value=0).map(truncated),
        st.builds(flipped, st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
        st.sampled_from(
            [
                varint(1 << 3 | WIRE_LEN) + varint(2**62),  # a length far past the end
                varint(1 << 3 | WIRE_VARINT) + b"\xff" * 11,  # a varint longer than 10 bytes
                varint(0),  # field number 0
                varint(1 << 3 | 3),  # a start-group wire type
                varint(1 << 3 | 7),  # no such wire type
                b"\x00" * 64,
            ]
        ),
        st.sampled_from([100, 1_000, 100_000]).map(nested),
        st.sampled_from([64 * 1024, 1024 * 1024]).map(lambda size: b"\x0a" * size),
    )


def good_values(account: SimAccount) -> dict[str, list[str]]:
    """Plausible values per field name, mixed into every string field's strategy."""
    page = base64.urlsafe_b64encode(json.dumps({"offset": 1}).encode()).decode()
    return {
        "ticker": ["BTCUSDT", SYMBOL, "ETHUSDT", "PERP_ETH_USDC", "btcusdt", "PERP_NOPE_USDC", "USDT"],
        "session_id": [A_SESSION, B_SESSION, f"{USER}_{SYMBOL}", f"{OTHER_USER}_{SYMBOL}", "_"],
        "user_id": [USER, OTHER_USER, USER.upper(), "0x" + "0" * 40, USER[:-1]],
        "signature": [SIGN_ME, "0x" + "ab" * 65, "0x" + "00" * 64 + "23"],
        "nonce": ["0123456789abcdef", "short", "x" * 64, "x" * 65],
        "page_token": [page, "!!!", "a" * 4096],
        "account_id": [account.account_id, "0x" + "0" * 64, "0x"],
        "orderly_key": [account.orderly_key, "ed25519:", "ed25519:" + "1" * 44],
        "orderly_secret": [account.orderly_secret, "ed25519:", "ed25519:" + "z" * 88],
        "current_price": ["42500", "2500", "0.01"],
        "upper_bound": ["45000", "42600", "2700"],
        "lower_bound": ["40000", "42400", "2200"],
        "total_margin": ["1000", "0.01", "999999999999"],
        "grid_ratio": ["0.05", "0.01", "0.1", "0.0999999999999"],
        "trigger_price": ["41000", "44000"],
        "stop_loss_price": ["39000", "41000"],
        "take_profit_price": ["46000", "44000"],
        "price_tolerance": ["0.01", "0.05", "1", "0"],
    }


def _config() -> grid_pb2.GridConfig:
    return grid_pb2.GridConfig(
        ticker="BTCUSDT",
        direction=grid_pb2.DIRECTION_BOTH,
        current_price="42500",
        upper_bound="45000",
        lower_bound="40000",
        grid_levels=6,
        total_margin="1000",
    )


def bases(account: SimAccount) -> dict[str, Message]:
    """A valid request of each method (auth blocks carry the harness' SIGN_ME marker)."""
    return {
        "StartGrid": start_request(),
        "StopGrid": pb.StopGridRequest(session_id=A_SESSION, close_position=True, user_auth=auth()),
        "GetGrid": pb.GetGridRequest(session_id=A_SESSION, user_auth=auth()),
        "ListGrids": pb.ListGridsRequest(page_size=10, user_auth=auth()),
        "ListGridSummaries": pb.ListGridSummariesRequest(start_time=1, page_size=10, user_auth=auth()),
        "PreviewGrid": pb.PreviewGridRequest(config=_config()),
        "WatchFills": pb.WatchFillsRequest(session_id=A_SESSION, user_auth=auth()),
        "CreateSessionKey": pb.CreateSessionKeyRequest(
            public_key="0x" + "11" * 32, scopes=["read"], user_auth=auth()
        ),
        "RevokeSessionKey": pb.RevokeSessionKeyRequest(all=True, user_auth=auth()),
        "GetGridHistory": pb.GetGridHistoryRequest(
            session_id=A_SESSION, resolution_ms=60_000, page_size=10, user_auth=auth()
        ),
        "BacktestGrid": pb.BacktestGridRequest(
            config=_config(), prices_csv="timestamp,price\n0,42500\n60000,41900\n120000,43100\n"
        ),
        "RegisterAccount": pb.RegisterAccountRequest(
            account_id=account.account_id,
            orderly_key=account.orderly_key,
            orderly_secret=account.orderly_secret,
            user_auth=auth(),
        ),
    }


def describe(parse: Callable[[bytes], Any], payload: bytes) -> str:
    """A short text of `payload` for a reproducer: the parsed message when it parses, and the hex."""
    try:
        text = str(parse(payload)).replace("\n", " ")[:300]
    except Exception as exc:
        text = f"<does not parse: {type(exc).__name__}>"
    hex_text = payload.hex()
    if len(hex_text) > 200:
        hex_text = f"{hex_text[:200]}... ({len(payload)} bytes)"
    return f"{text} | bytes {hex_text}"


OPERATOR_TOKEN = "fuzz-operator-token"
Metadata: TypeAlias = tuple[tuple[str, str | bytes], ...]
_PRINTABLE_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_METADATA_TEXTS = (
    "",
    " ",
    "0",
    "-1",
    "9" * 19,
    "9" * 20,
    "9" * 400,
    "1764000000000",
    "0x" + "ab" * 20,
    "0x" + "00" * 65,
    "0x" + "ff" * 65,
    USER,
    OTHER_USER,
    "Bearer ",
    "Bearer " + OPERATOR_TOKEN,
    "bearer " + OPERATOR_TOKEN,
    "Bearer " + OPERATOR_TOKEN + " ",
    "Basic Zm9vOmJhcg==",
    "1.1.1.1",
    "1.1.1.1, 2.2.2.2",
    "::1",
    "unknown",
    "a" * 4000,
)
METADATA_KEYS = (
    "x-user-id",
    "x-user-signature",
    "x-user-timestamp",
    "x-user-nonce",
    "authorization",
    "x-request-id",
    "x-forwarded-for",
    "x-orderly-grid-proxy",
)


def metadata() -> st.SearchStrategy[Metadata]:
    """Request metadata a client may send: the auth keys, the operator token, forwarding claims and
    a request id, with printable-ASCII values (what gRPC allows outside -bin keys), and -bin keys
    with any bytes."""
    text = st.one_of(st.sampled_from(_METADATA_TEXTS), st.text(_PRINTABLE_ASCII, max_size=64))
    entry = st.one_of(
        st.tuples(st.sampled_from(METADATA_KEYS), text),
        st.tuples(st.sampled_from(["x-user-id-bin", "x-trace-bin"]), st.binary(max_size=64)),
    )
    return st.lists(entry, max_size=5).map(tuple)
