from __future__ import annotations

from decimal import Decimal

import pytest

from server.backtest import BarOrder, PriceInputError, parse_csv
from server.backtest.prices import bar_path


def test_ticks_parse_exactly_with_a_header_and_comments() -> None:
    series, is_bars = parse_csv(["timestamp,price", "# a comment", "1000,42500.5", "2000,42501.25"])
    assert not is_bars
    assert series.scale == 2
    assert [series.price(i) for i in range(2)] == [Decimal("42500.5"), Decimal("42501.25")]
    assert series.timestamps_ms.tolist() == [1000, 2000]


def test_bars_become_four_points_each_nearest_extreme_first() -> None:
    rows = ["0,100,104,99,103", "60000,103,105,95,96,12.5"]  # volume column ignored
    series, is_bars = parse_csv(rows)
    assert is_bars
    assert series.bars == 2
    path = bar_path(series, BarOrder.NEAREST, high_first_if_pessimistic=True)
    assert path.prices.tolist() == [100, 99, 104, 103, 103, 105, 95, 96]
    pessimistic = bar_path(series, BarOrder.PESSIMISTIC, high_first_if_pessimistic=False)
    assert pessimistic.prices.tolist() == [100, 99, 104, 103, 103, 95, 105, 96]


def test_a_tie_between_the_extremes_goes_low_first() -> None:
    series, _ = parse_csv(["0,100,101,99,100"])
    assert bar_path(series, BarOrder.NEAREST, True).prices.tolist() == [100, 99, 101, 100]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["0,100", "1000,abc"], "line 2: price: expected a plain decimal number"),
        (["0,100", "1000,-5"], "line 2: price: expected a plain decimal number"),
        (["0,100", "1000,0"], "line 2: price: must be > 0"),
        (["1000,100", "0,100"], "line 2: timestamp: 0 is before the previous row's"),
        (["0,100", "1000,100,1"], "line 2: expected 2 fields, got 3"),
        (["0,100,1"], "line 1: expected 'timestamp,price'"),
        (["t,o,h,l,c", "0,100,99,98,100"], "line 2: high: must be >= open and close"),
        (["0,100,101,100.5,100"], "line 1: low: must be <= open and close"),
        (["0,1.0000000000001"], "line 1: price: more than 12 decimals"),
        (["timestamp,price"], "no price rows"),
    ],
)
def test_bad_input_names_the_line_and_field(rows: list[str], message: str) -> None:
    with pytest.raises(PriceInputError, match=message):
        parse_csv(rows)


def test_input_size_is_bounded() -> None:
    with pytest.raises(PriceInputError, match="line 4: more than 3 rows"):
        parse_csv([f"{i},100" for i in range(5)], max_rows=3)


def test_mixed_decimals_share_one_scale() -> None:
    series, _ = parse_csv(["0,7", "1,7.125", "2,0.5"])
    assert series.scale == 3
    assert series.prices.tolist() == [7000, 7125, 500]
    assert series.scaled_to(5).prices.tolist() == [700000, 712500, 50000]
