"""Funding settlements from the accrued funding of REST /v1/positions rows."""

from decimal import Decimal

from engine import FundingSettled
from server.exchange.funding import AccruedFunding
from server.exchange.models import PositionReport
from server.exchange.parsing import parse_position_reports

BTC, ETH = "PERP_BTC_USDC", "PERP_ETH_USDC"


def row(symbol: str, quantity: str, accrued: str, updated_ms: int) -> PositionReport:
    return PositionReport(symbol, Decimal(quantity), Decimal(accrued), updated_ms)


def test_first_read_is_the_baseline_and_each_change_after_it_is_one_settlement() -> None:
    funding = AccruedFunding()
    assert funding.observe([row(BTC, "0.5", "3", 1)]) == []  # accrued before we looked: not re-booked
    assert funding.observe([row(BTC, "0.5", "3", 2)]) == []
    paid = funding.observe([row(BTC, "0.5", "3.25", 3)])
    assert paid == [(BTC, FundingSettled(Decimal("-0.25"), 3))]  # paid is a cost
    received = funding.observe([row(BTC, "-0.5", "3.05", 4)])
    assert received == [(BTC, FundingSettled(Decimal("0.20"), 4))]


def test_a_symbol_absent_from_the_baseline_starts_at_zero() -> None:
    funding = AccruedFunding()
    funding.observe([row(BTC, "1", "0", 1)])
    assert funding.observe([row(ETH, "2", "0.4", 5)]) == [(ETH, FundingSettled(Decimal("-0.4"), 5))]


def test_a_change_on_a_flat_position_is_a_reset_not_a_payment() -> None:
    funding = AccruedFunding()
    funding.observe([row(BTC, "1", "2", 1)])
    assert funding.observe([row(BTC, "0", "0", 2)]) == []
    assert funding.observe([row(BTC, "1", "0.1", 3)]) == [(BTC, FundingSettled(Decimal("-0.1"), 3))]


def test_positions_rows_carry_the_accrued_funding_fee() -> None:
    data = {
        "rows": [
            {
                "symbol": BTC,
                "position_qty": -5,
                "accrued_funding_fee": "0.005202",
                "updated_time": 1685429350571,
            }
        ]
    }
    assert parse_position_reports(data) == [row(BTC, "-5", "0.005202", 1685429350571)]
