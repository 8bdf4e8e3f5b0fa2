"""Deterministic client_order_ids: `<prefix>-<cell><B|S><cycle>` for cell orders, `<prefix>-x<B|S><n>`
for the session's closing orders.

The prefix is "g" + 10 hex chars of sha256(session_key), so ids of different runs of a session never
collide and every id can be routed back to its session and cell. `cycle` is the cell's order sequence
number: it grows by one every time the cell places a *new* order (next leg, or a replacement after a
cancel), so no two orders of one run ever share an id. Orderly's limits: at most 36 chars of
[A-Za-z0-9-], not starting with '-'; the longest id here is 11 + 1 + 3 + 1 + 19 = 35 chars.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from engine.types import Side

MAX_CLIENT_ORDER_ID_LENGTH = 36
_PREFIX_HASH_CHARS = 10
_SIDE_LETTER = {Side.BUY: "B", Side.SELL: "S"}
_LETTER_SIDE = {"B": Side.BUY, "S": Side.SELL}
_CLOSE_MARK = "x"
_MAX_CYCLE = 10**19 - 1


class ParsedClientOrderId(NamedTuple):
    prefix: str
    cell_index: int | None  # None for a closing order
    side: Side
    cycle: int


def client_order_id_prefix(session_key: str) -> str:
    if not session_key:
        raise ValueError("session_key: must be a non-empty string")
    digest = hashlib.sha256(session_key.encode("utf-8")).hexdigest()
    return "g" + digest[:_PREFIX_HASH_CHARS]


def cell_order_id(prefix: str, cell_index: int, side: Side, cycle: int) -> str:
    if not 0 <= cycle <= _MAX_CYCLE:
        raise ValueError(f"cycle: must be in [0, {_MAX_CYCLE}], got {cycle}")
    # `is` rather than a dict lookup: hashing an Enum member is a Python-level call on the hot path.
    return f"{prefix}-{cell_index}{'B' if side is Side.BUY else 'S'}{cycle}"


def close_order_id(prefix: str, side: Side, sequence: int) -> str:
    return f"{prefix}-{_CLOSE_MARK}{_SIDE_LETTER[side]}{sequence}"


def parse_client_order_id(client_order_id: str) -> ParsedClientOrderId | None:
    """The parts of an id this module made, or None for anything else (a foreign order)."""
    if len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH:
        return None
    prefix, dash, rest = client_order_id.partition("-")
    if not dash or len(prefix) != 1 + _PREFIX_HASH_CHARS or prefix[0] != "g" or len(rest) < 3:
        return None
    if rest[0] == _CLOSE_MARK:
        side = _LETTER_SIDE.get(rest[1])
        tail = rest[2:]
        if side is None or not tail.isdigit() or not tail.isascii():
            return None
        return ParsedClientOrderId(prefix, None, side, int(tail))
    for position, char in enumerate(rest):
        if not char.isdigit():
            side = _LETTER_SIDE.get(char)
            head, tail = rest[:position], rest[position + 1 :]
            if side is None or not head or not tail.isdigit() or not (head + tail).isascii():
                return None
            return ParsedClientOrderId(prefix, int(head), side, int(tail))
    return None
