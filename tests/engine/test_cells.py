from __future__ import annotations

from decimal import Decimal

import pytest

from engine import Direction, Side
from engine.cells import TRANSITIONS, CellAction, CellStatus, transition
from engine.plan import cell_entry_sides

D = Decimal
LINES = tuple(D(price) for price in ("40000", "41000", "42000", "43000", "44000", "45000"))
B, S = Side.BUY, Side.SELL


def test_both_worked_example_leaves_the_line_nearest_the_price_empty() -> None:
    # 42500 is equally far from 42000 and 43000: the tie goes to BUY.
    assert cell_entry_sides(LINES, Direction.BOTH, D("42500")) == (B, B, B, S, S)


def test_both_containing_cell_takes_the_side_whose_line_is_farther() -> None:
    assert cell_entry_sides(LINES, Direction.BOTH, D("42700")) == (B, B, B, S, S)  # 42000 farther: buy
    assert cell_entry_sides(LINES, Direction.BOTH, D("42300")) == (B, B, S, S, S)  # 43000 farther: sell


def test_both_with_price_on_a_line_leaves_that_line_empty() -> None:
    assert cell_entry_sides(LINES, Direction.BOTH, D("42000")) == (B, B, S, S, S)


def test_long_trades_only_cells_at_or_below_the_price() -> None:
    assert cell_entry_sides(LINES, Direction.LONG, D("42500")) == (B, B, B, None, None)
    assert cell_entry_sides(LINES, Direction.LONG, D("42000")) == (B, B, None, None, None)


def test_short_trades_only_cells_at_or_above_the_price() -> None:
    assert cell_entry_sides(LINES, Direction.SHORT, D("42500")) == (None, None, S, S, S)
    assert cell_entry_sides(LINES, Direction.SHORT, D("43000")) == (None, None, None, S, S)


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (CellStatus.IDLE, CellAction.PLACE, CellStatus.PLACING),
        (CellStatus.PLACING, CellAction.ACCEPTED, CellStatus.OPEN),
        (CellStatus.PLACING, CellAction.FILL, CellStatus.OPEN),
        (CellStatus.OPEN, CellAction.COMPLETED, CellStatus.IDLE),
        (CellStatus.OPEN, CellAction.CANCEL_REQUESTED, CellStatus.CANCELLING),
        (CellStatus.CANCELLING, CellAction.FILL, CellStatus.CANCELLING),
        (CellStatus.CANCELLING, CellAction.CANCELLED, CellStatus.IDLE),
    ],
)
def test_legal_transitions(status: CellStatus, action: CellAction, expected: CellStatus) -> None:
    assert transition(status, action) is expected


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (CellStatus.IDLE, CellAction.FILL),
        (CellStatus.IDLE, CellAction.ACCEPTED),
        (CellStatus.IDLE, CellAction.CANCELLED),
        (CellStatus.OPEN, CellAction.PLACE),
        (CellStatus.OPEN, CellAction.REJECTED),
        (CellStatus.CANCELLING, CellAction.PLACE),
    ],
)
def test_illegal_transitions_have_no_next_status(status: CellStatus, action: CellAction) -> None:
    assert transition(status, action) is None


def test_a_cell_can_only_place_from_idle() -> None:
    placing_from = {status for (status, action) in TRANSITIONS if action is CellAction.PLACE}
    assert placing_from == {CellStatus.IDLE}
