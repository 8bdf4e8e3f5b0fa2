"""The chaos invariants over hand-built histories: each check stays quiet on a clean history and
finds the violation planted in a broken one (so a zero in the chaos table means something)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from server.simulator.history import OrderRecord, Submission, TradeRecord
from tests.chaos import invariants as inv
from tests.chaos.invariants import Figures, LedgerFill, Run, Snapshot

ACCOUNT = "0xaaaa"
P = "g0123456789"  # a run's client_order_id prefix
SESSION = "0xuser_PERP_BTC_USDC"


def order(
    cid: str,
    order_id: int,
    *,
    side: str = "BUY",
    status: str = "FILLED",
    created_ms: int = 1_000,
    updated_ms: int = 2_000,
    quantity: str = "0.01",
    price: str = "42000",
    account_id: str = ACCOUNT,
) -> OrderRecord:
    return OrderRecord(
        account_id=account_id,
        order_id=order_id,
        client_order_id=cid,
        symbol="PERP_BTC_USDC",
        side=side,
        order_type="LIMIT",
        price=Decimal(price),
        quantity=Decimal(quantity),
        reduce_only=False,
        status=status,
        executed_quantity=Decimal(quantity) if status == "FILLED" else Decimal(0),
        created_ms=created_ms,
        updated_ms=updated_ms,
    )


def trade(
    cid: str, order_id: int, trade_id: int, side: str, quantity: str, price: str, fee: str = "0.1"
) -> TradeRecord:
    return TradeRecord(
        account_id=ACCOUNT,
        trade_id=trade_id,
        order_id=order_id,
        client_order_id=cid,
        symbol="PERP_BTC_USDC",
        side=side,
        price=Decimal(price),
        quantity=Decimal(quantity),
        fee=Decimal(fee),
        is_maker=True,
        timestamp_ms=1_500,
    )


def booked(t: TradeRecord, seq: int, session_id: str = SESSION) -> LedgerFill:
    return LedgerFill(
        seq=seq,
        session_id=session_id,
        client_order_id=t.client_order_id or "",
        order_id=str(t.order_id),
        trade_id=str(t.trade_id),
        side=t.side,
        price=t.price,
        quantity=t.quantity,
        fee=t.fee,
    )


def submission(cid: str, order_id: int | None, error_code: int | None = None) -> Submission:
    return Submission(ACCOUNT, cid, "PERP_BTC_USDC", "BUY", 1_000, order_id, error_code)


# A clean round trip in cell 2: buy 0.01 @ 42000, then sell 0.01 @ 43000 in two partial trades.
BUY = order(f"{P}-2B0", 1, created_ms=1_000, updated_ms=2_000)
SELL = order(f"{P}-2S1", 2, side="SELL", created_ms=2_000, updated_ms=3_000, price="43000")
TRADES = (
    trade(f"{P}-2B0", 1, 11, "BUY", "0.01", "42000"),
    trade(f"{P}-2S1", 2, 12, "SELL", "0.004", "43000"),
    trade(f"{P}-2S1", 2, 13, "SELL", "0.006", "43000"),
)
LEDGER = tuple(booked(t, seq) for seq, t in enumerate(TRADES, start=1))


def clean_figures(mark: str = "42500") -> Figures:
    return inv.venue_figures(TRADES, Decimal(mark))


def test_a_clean_history_has_no_violation() -> None:
    snapshot = Snapshot(
        orders=(BUY, SELL),
        trades=TRADES,
        submissions=(submission(f"{P}-2B0", 1), submission(f"{P}-2S1", 2)),
        ledger=LEDGER,
        runs=(Run(SESSION, P, "STOPPED", close_requested=True, figures=clean_figures()),),
    )
    assert inv.check(snapshot, final=True) == []
    assert not inv.unsettled(snapshot)


def test_venue_figures_sum_position_fees_and_cost() -> None:
    figures = clean_figures("50000")
    assert figures.position == 0
    assert figures.fees == Decimal("0.3")
    # Bought for 420, sold for 430, paid 0.3 in fees.
    assert figures.trading_pnl == Decimal("9.7")


def test_an_id_accepted_twice_is_found_per_account() -> None:
    again = order(f"{P}-2B0", 9, created_ms=5_000, updated_ms=6_000)
    elsewhere = order(f"{P}-2B0", 10, account_id="0xbbbb")
    [violation] = inv.accepted_twice([BUY, SELL, again, elsewhere])
    assert violation.invariant == inv.ACCEPTED_TWICE
    assert violation.key == f"{ACCOUNT}/{P}-2B0"
    assert "2 times" in violation.detail


def test_an_id_sent_again_is_found_whatever_the_venue_answered() -> None:
    rows = [submission(f"{P}-2B0", 1), submission(f"{P}-2B0", None, -1007), submission(f"{P}-3B0", 4)]
    [violation] = inv.sent_again(rows)
    assert violation.key == f"{ACCOUNT}/{P}-2B0"
    assert "rejected -1007" in violation.detail
    assert inv.sent_again(rows[::2]) == []


def test_two_orders_live_at_once_in_one_cell_are_found() -> None:
    # The re-placed buy was created while the first one still rested (and cancelled before the sell).
    overlapping = order(f"{P}-2B2", 3, status="CANCELLED", created_ms=1_500, updated_ms=1_800)
    [violation] = inv.live_twice_in_a_cell([BUY, SELL, overlapping])
    assert violation.invariant == inv.CELL_LIVE_TWICE
    assert f"{P}-2B0" in violation.detail
    assert f"{P}-2B2" in violation.detail


def test_orders_one_after_another_in_a_cell_and_in_other_cells_are_fine() -> None:
    # Created in the very ms the previous one filled: one after the other, not at once.
    next_buy = order(f"{P}-2B2", 3, status="NEW", created_ms=3_000, updated_ms=3_000)
    other_cell = order(f"{P}-3S0", 4, side="SELL", status="NEW", created_ms=1_500, updated_ms=1_500)
    closing = order(f"{P}-xS1", 5, side="SELL", status="NEW", created_ms=1_500, updated_ms=1_500)
    assert inv.live_twice_in_a_cell([BUY, SELL, next_buy, other_cell, closing]) == []


def test_two_open_orders_in_a_cell_are_found() -> None:
    first = order(f"{P}-4S0", 5, side="SELL", status="NEW", created_ms=1_000, updated_ms=1_000)
    second = order(f"{P}-4S0", 6, side="SELL", status="PARTIAL_FILLED", created_ms=9_000, updated_ms=9_500)
    assert [v.invariant for v in inv.live_twice_in_a_cell([first, second])] == [inv.CELL_LIVE_TWICE]


def test_a_missing_a_doubled_and_an_invented_fill_are_found() -> None:
    run = Run(SESSION, P, "RUNNING")
    invented = LedgerFill(9, SESSION, f"{P}-5B0", "77", "777", "BUY", Decimal(1), Decimal(1), Decimal(0))
    ledger = [LEDGER[0], LEDGER[0], LEDGER[1], invented]
    found = {(v.invariant, v.key) for v in inv.ledger_mismatches([run], TRADES, ledger)}
    assert found == {
        (inv.FILL_DUPLICATED, "1/11"),
        (inv.FILL_MISSING, "2/13"),
        (inv.FILL_EXTRA, "77/777"),
    }


def test_a_fill_booked_under_another_session_is_found() -> None:
    run = Run(SESSION, P, "RUNNING")
    ledger = [LEDGER[0], LEDGER[1], booked(TRADES[2], 3, session_id="0xother_PERP_BTC_USDC")]
    [violation] = inv.ledger_mismatches([run], TRADES, ledger)
    assert violation.invariant == inv.FILL_EXTRA
    assert "0xother" in violation.detail


def test_trades_of_other_runs_and_foreign_orders_are_not_this_runs() -> None:
    other_run_trade = trade("g9999999999-0B0", 50, 500, "BUY", "1", "100")
    foreign = trade("my-own-order", 51, 501, "BUY", "1", "100")
    run = Run(SESSION, P, "RUNNING", figures=clean_figures())
    assert inv.ledger_mismatches([run], [*TRADES, other_run_trade, foreign], LEDGER) == []
    assert inv.figure_mismatches([run], [*TRADES, other_run_trade, foreign]) == []


def test_figures_that_disagree_with_the_venue_are_found() -> None:
    good = clean_figures()
    lost_fill = Figures(Decimal("0.006"), good.fees, good.trading_pnl, good.mark)
    fees_off = Figures(good.position, good.fees + Decimal("0.01"), good.trading_pnl, good.mark)
    money_off = Figures(good.position, good.fees, good.trading_pnl - 1, good.mark)
    for figures, word in ((lost_fill, "position"), (fees_off, "fees"), (money_off, "realized")):
        [violation] = inv.figure_mismatches([Run(SESSION, P, "RUNNING", figures=figures)], TRADES)
        assert violation.invariant == inv.FIGURES
        assert word in violation.detail
    # Unreported figures are not judged.
    assert inv.figure_mismatches([Run(SESSION, P, "RUNNING")], TRADES) == []


def test_an_order_left_open_after_stop_and_a_position_left_after_close_are_found() -> None:
    left = order(f"{P}-3S0", 4, side="SELL", status="NEW", created_ms=1_000, updated_ms=1_000)
    half = TRADES[:2]  # the sell filled only 0.004 of 0.01
    stopped = Run(SESSION, P, "STOPPED", close_requested=True)
    found = [v.invariant for v in inv.stop_leftovers([stopped], [BUY, SELL, left], half)]
    assert found == [inv.OPEN_AFTER_STOP, inv.NOT_FLAT_AFTER_CLOSE]
    # Still running: open orders and a position are its business; stopped without close: flat not asked.
    assert inv.stop_leftovers([Run(SESSION, P, "RUNNING", close_requested=True)], [left], half) == []
    assert inv.stop_leftovers([Run(SESSION, P, "FAILED")], [BUY, SELL], half) == []


def test_a_close_clamped_to_what_the_account_held_is_not_a_violation() -> None:
    """The run bought 0.01 and closed none of it because an earlier run's short of 0.01 left the
    account flat: a reduce-only close had nothing to reduce."""
    leftover = replace(trade("g5555555555-3S0", 40, 400, "SELL", "0.01", "42000"), timestamp_ms=500)
    bought = trade(f"{P}-2B0", 1, 11, "BUY", "0.01", "42000")
    run = Run(
        SESSION,
        P,
        "STOPPED",
        close_requested=True,
        account_id=ACCOUNT,
        symbol="PERP_BTC_USDC",
        stopped_ms=9_000,
    )
    assert inv.stop_leftovers([run], [], [leftover, bought]) == []
    [note] = inv.closes_clamped([run], [leftover, bought])
    assert "keeps 0.01" in note
    # Had the account still held the run's 0.01 when it stopped, the close left it behind.
    [violation] = inv.stop_leftovers([run], [], [bought])
    assert violation.invariant == inv.NOT_FLAT_AFTER_CLOSE
    assert "still held 0.01" in violation.detail
    # Trades after the stop do not count towards what the account held then.
    later = replace(leftover, timestamp_ms=9_500)
    assert [v.invariant for v in inv.stop_leftovers([run], [], [bought, later])] == [inv.NOT_FLAT_AFTER_CLOSE]


def test_a_partial_clamp_leaves_only_what_the_account_could_not_give() -> None:
    leftover = trade("g5555555555-3S0", 40, 400, "SELL", "0.004", "42000")
    bought = trade(f"{P}-2B0", 1, 11, "BUY", "0.01", "42000")
    run = Run(
        SESSION,
        P,
        "STOPPED",
        close_requested=True,
        account_id=ACCOUNT,
        symbol="PERP_BTC_USDC",
        stopped_ms=9_000,
    )
    [violation] = inv.stop_leftovers([run], [], [leftover, bought])
    assert "still held 0.006" in violation.detail


def test_a_residual_the_venue_refused_as_below_its_minimum_is_a_note_not_a_violation() -> None:
    bought = trade(f"{P}-2B0", 1, 11, "BUY", "0.0002", "42000")
    run = Run(SESSION, P, "STOPPED", close_requested=True)
    refused = submission(f"{P}-xS0", None, -1102)
    assert inv.stop_leftovers([run], [], [bought], [refused]) == []
    [note] = inv.closes_clamped([run], [bought], [refused])
    assert "below the venue's minimum" in note
    other = submission(f"{P}-xS0", None, -1005)  # any other refusal is no excuse
    assert [v.invariant for v in inv.stop_leftovers([run], [], [bought], [other])] == [
        inv.NOT_FLAT_AFTER_CLOSE
    ]


def test_sessions_left_starting_or_stopping_count_only_in_the_final_check() -> None:
    runs = (Run(SESSION, P, "STOPPING"), Run("0xb_PERP_ETH_USDC", "g1111111111", "STARTING"))
    snapshot = Snapshot(orders=(), trades=(), submissions=(), ledger=(), runs=runs)
    assert inv.check(snapshot, final=False) == []
    assert inv.unsettled(snapshot)
    assert [v.invariant for v in inv.check(snapshot, final=True)] == [inv.STUCK, inv.STUCK]


def test_prefix_of_reads_only_this_services_ids() -> None:
    assert inv.prefix_of(f"{P}-12S3") == P
    assert inv.prefix_of(f"{P}-xB1") == P
    assert inv.prefix_of("someone-else") is None
    assert inv.prefix_of(None) is None
