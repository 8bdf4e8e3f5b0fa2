from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine import FundingSettled, Ledger, Side, pnl, start, step
from engine.ledger import MS_PER_YEAR, ledger_report, round_trip_profit
from tests.engine.support import RULES, make_config

D = Decimal


def test_round_trip_profit_is_quantity_times_the_move_in_the_cells_favour_minus_both_fees() -> None:
    assert round_trip_profit(Side.BUY, D("42000") * D("0.1"), D("43000") * D("0.1"), D("1.7")) == D("98.3")
    assert round_trip_profit(Side.SELL, D("44000") * D("0.1"), D("43000") * D("0.1"), D("1.7")) == D("98.3")


def test_report_splits_grid_profit_realized_unrealized_fees_and_funding() -> None:
    ledger = Ledger()
    ledger = ledger.with_trade(Side.BUY, D("100"), D("2"), D("0.1"))  # open 2 at 100
    ledger = ledger.with_trade(Side.SELL, D("110"), D("1"), D("0.1"))  # a cell exits 1 at 110
    ledger = ledger.with_round_trip(D("10") - D("0.05") - D("0.1"))
    ledger = ledger._replace(funding=D("-0.5"))
    report = ledger_report(ledger, D("1000"), D("120"), 0)
    assert report.grid_profit == D("9.85")
    assert report.realized == D("10") - D("0.2")  # the reducing trade's 10, less EVERY fee paid
    assert report.fees == D("0.2")
    assert report.unrealized == D("20")  # the remaining 1 at mark 120 against its entry at 100, no fees
    assert report.average_entry_price == D("100")
    assert report.funding == D("-0.5")
    assert report.total == report.realized + report.unrealized + report.funding
    assert report.position == D("1")


def test_a_stop_close_at_a_loss_is_realized_and_leaves_nothing_unrealized() -> None:
    ledger = Ledger().with_trade(Side.BUY, D("100"), D("1"), D("0.02"))
    ledger = ledger.with_trade(Side.BUY, D("90"), D("1"), D("0.02"))  # average entry 95
    ledger = ledger.with_trade(Side.SELL, D("80"), D("2"), D("0.05"))  # the stop's close
    for mark in (D("70"), D("80"), D("200")):
        report = ledger_report(ledger, D("1000"), mark, 1)
        assert report.unrealized == 0
        assert report.realized == D("-30") - D("0.09")
        assert report.total == report.realized
    assert ledger.position == 0
    assert ledger.average_entry_price == 0


def test_a_trade_through_zero_closes_at_the_average_and_opens_the_rest_at_its_price() -> None:
    ledger = Ledger().with_trade(Side.BUY, D("100"), D("1"), D("0"))
    ledger = ledger.with_trade(Side.SELL, D("110"), D("3"), D("0"))  # closes 1 (+10), opens short 2 at 110
    report = ledger_report(ledger, D("1000"), D("105"), 1)
    assert report.realized == D("10")
    assert report.average_entry_price == D("110")
    assert report.unrealized == D("10")  # short 2 from 110, mark 105


_prices = st.decimals(min_value=D("1"), max_value=D("1000"), places=2)
_quantities = st.decimals(min_value=D("0.01"), max_value=D("5"), places=2)
_trades = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), _prices, _quantities, st.decimals("0", "1", places=3)),
    max_size=30,
)


@given(trades=_trades, mark=_prices)
def test_total_is_position_at_the_mark_less_cost_however_it_is_split(
    trades: list[tuple[Side, Decimal, Decimal, Decimal]], mark: Decimal
) -> None:
    ledger = Ledger()
    for side, price, quantity, fee in trades:
        ledger = ledger.with_trade(side, price, quantity, fee)
    report = ledger_report(ledger, D("1000"), mark, 1)
    expected = ledger.position * mark - ledger.cost
    assert abs(report.realized + report.unrealized - expected) < D("1e-18")
    if ledger.position == 0:
        assert report.unrealized == 0


@given(trades=_trades)
def test_realized_moves_only_on_position_reducing_trades_and_fees(
    trades: list[tuple[Side, Decimal, Decimal, Decimal]],
) -> None:
    ledger = Ledger()
    for side, price, quantity, fee in trades:
        after = ledger.with_trade(side, price, quantity, fee)
        adding = ledger.position == 0 or (ledger.position > 0) == (side is Side.BUY)
        if adding:  # opening or adding never realizes anything but its fee
            assert abs(after.realized - (ledger.realized - fee)) < D("1e-18")
        ledger = after


def test_apr_is_annualised_relative_to_total_margin_and_zero_for_no_run_time() -> None:
    ledger = (
        Ledger()
        .with_trade(Side.BUY, D("100"), D("1"), D("0"))
        .with_trade(Side.SELL, D("110"), D("1"), D("0"))
    )
    ledger = ledger.with_round_trip(D("10"))
    year = ledger_report(ledger, D("1000"), D("1"), MS_PER_YEAR)
    assert year.grid_apr == D("0.01")
    assert year.total_apr == D("0.01")
    half = ledger_report(ledger, D("1000"), D("1"), MS_PER_YEAR // 2)
    assert half.grid_apr == D("0.02")
    assert ledger_report(ledger, D("1000"), D("1"), 0).grid_apr == 0


def test_funding_is_its_own_line_and_is_applied_once_per_settlement() -> None:
    state, _ = start(make_config(), RULES)
    event = FundingSettled(D("-1.25"), 28_800_000)
    state, _ = step(state, event)
    state, _ = step(state, event)
    state, _ = step(state, FundingSettled(D("0.25"), 57_600_000))
    report = pnl(state, D("42500"), 1)
    assert report.funding == D("-1.00")
    assert report.total == D("-1.00")
