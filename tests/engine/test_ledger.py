from __future__ import annotations

from decimal import Decimal

from engine import FundingSettled, Ledger, Side, pnl, start, step
from engine.ledger import MS_PER_YEAR, ledger_report, round_trip_profit
from tests.engine.support import RULES, make_config

D = Decimal


def test_round_trip_profit_is_quantity_times_the_move_in_the_cells_favour_minus_both_fees() -> None:
    assert round_trip_profit(Side.BUY, D("42000") * D("0.1"), D("43000") * D("0.1"), D("1.7")) == D("98.3")
    assert round_trip_profit(Side.SELL, D("44000") * D("0.1"), D("43000") * D("0.1"), D("1.7")) == D("98.3")


def test_report_splits_realized_unrealized_fees_and_funding() -> None:
    ledger = Ledger()
    ledger = ledger.with_trade(Side.BUY, D("100"), D("2"), D("0.1"))  # open 2 at 100
    ledger = ledger.with_trade(Side.SELL, D("110"), D("1"), D("0.1"))  # a cell exits 1 at 110
    ledger = ledger.with_round_trip(D("10") - D("0.05") - D("0.1"))
    ledger = ledger._replace(funding=D("-0.5"))
    report = ledger_report(ledger, D("1000"), D("120"), 0)
    assert report.realized_grid_profit == D("9.85")
    assert report.fees == D("0.2")
    assert report.unrealized == D("20") - D("0.05")  # the remaining 1 at mark 120, less its entry fee
    assert report.funding == D("-0.5")
    assert report.total == report.realized_grid_profit + report.unrealized + report.funding
    assert report.position == D("1")


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
