from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import MAX_CLIENT_ORDER_ID_LENGTH, Side, client_order_id_prefix, parse_client_order_id
from engine.order_ids import cell_order_id, close_order_id

ORDERLY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def test_prefix_is_deterministic_and_differs_between_runs_of_a_session() -> None:
    assert client_order_id_prefix("alice_BTCUSDT:1") == client_order_id_prefix("alice_BTCUSDT:1")
    assert client_order_id_prefix("alice_BTCUSDT:1") != client_order_id_prefix("alice_BTCUSDT:2")


def test_longest_possible_id_fits_orderly_limits() -> None:
    client_order_id = cell_order_id(client_order_id_prefix("s"), 199, Side.SELL, 10**19 - 1)
    assert len(client_order_id) <= MAX_CLIENT_ORDER_ID_LENGTH
    assert ORDERLY_ID.match(client_order_id)


@settings(max_examples=200, deadline=None)
@given(
    session_key=st.text(min_size=1, max_size=80),
    cell_index=st.integers(min_value=0, max_value=198),
    side=st.sampled_from(Side),
    cycle=st.integers(min_value=0, max_value=10**19 - 1),
)
def test_cell_order_id_is_valid_for_orderly_and_parses_back(
    session_key: str, cell_index: int, side: Side, cycle: int
) -> None:
    prefix = client_order_id_prefix(session_key)
    client_order_id = cell_order_id(prefix, cell_index, side, cycle)
    assert len(client_order_id) <= MAX_CLIENT_ORDER_ID_LENGTH
    assert ORDERLY_ID.match(client_order_id)
    parsed = parse_client_order_id(client_order_id)
    assert parsed is not None
    assert (parsed.prefix, parsed.cell_index, parsed.side, parsed.cycle) == (prefix, cell_index, side, cycle)


def test_close_order_id_parses_back_without_a_cell() -> None:
    prefix = client_order_id_prefix("s")
    parsed = parse_client_order_id(close_order_id(prefix, Side.BUY, 3))
    assert parsed is not None
    assert (parsed.cell_index, parsed.side, parsed.cycle) == (None, Side.BUY, 3)


def test_foreign_ids_do_not_parse() -> None:
    for foreign in ["", "abc", "my-order-1", "g123-1B1", "gabcdefabcd-", "gabcdefabcd-1Q1", "gabcdefabcd-B1"]:
        assert parse_client_order_id(foreign) is None, foreign
