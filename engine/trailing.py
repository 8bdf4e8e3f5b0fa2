"""Trailing: a grid that follows the price, one cell at a time.

- Up: when the mark reaches the line one grid step above the top line (ARITHMETIC: top + the
  configured interval (upper - lower) / (grid_levels - 1); GEOMETRIC: top x (1 + grid_ratio); rounded to
  the quote tick) and that line is not above `trailing_up_limit`, the grid shifts up one cell: the
  lowest cell is dropped and a cell is added on top. Down mirrors it (bottom - interval, bottom x
  (1 - grid_ratio), not below `trailing_down_limit`). A gap shifts as often as it needs (at most
  MAX_SHIFTS_PER_MARK per mark); every shift is its own GridShifted record.
- The dropped cell: an entry order is cancelled (through the shell's cancel and look-up path: a trade
  that raced the cancel is booked, and the cell places its counter order for it). Inventory it holds
  keeps its counter order: the cell is retired, it exits and never enters again. With
  `trailing_close`, its order is cancelled instead and its inventory closed with a reduce-only market
  order, whose trades the ledger books as realized. Never silently dropped either way.
- The added cell takes a number no cell ever had (engine.plan.GridPlan.numbers), so its
  client_order_ids are new. Its entry side: LONG buys, SHORT sells, BOTH buys when added on top (it lies
  below the price) and sells when added at the bottom. Its quantity is sized as a start sizes one
  (total_margin over the trading cells at its entry price); a size outside the symbol's limits stops
  the trailing there. Its post-only order is placed when it rests at the mark, else the cell is parked
  until it does (engine.stops.unpark).
- Shifting back into a band that a retired cell still occupies re-activates that cell, with the
  counter order it kept; one whose close-cancel is still in flight holds the shift until it lands.
- Retired cells that are done (no live order, nothing held) are trimmed from the grid's edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.cell_orders import place, rests_at, settle_exit, wanted_order
from engine.cells import CellAction, CellState, CellStatus, initial_cell, transition
from engine.commands import CancelOrder, ClosePosition, Command, GridShifted, ShiftDirection
from engine.config import GridConfig
from engine.ledger import Ledger
from engine.lines import round_to_tick
from engine.order_ids import close_order_id
from engine.plan import GridPlan, cell_quantity
from engine.state import SessionState, SessionStatus
from engine.types import ZERO, Direction, GridType, Side

MAX_SHIFTS_PER_MARK = 200
_NO_COMMANDS: tuple[Command, ...] = ()


def trails(config: GridConfig) -> bool:
    return config.trailing_up or config.trailing_down


def _new_cell_side(direction: Direction, up: bool) -> Side:
    if direction is Direction.LONG:
        return Side.BUY
    if direction is Direction.SHORT:
        return Side.SELL
    return Side.BUY if up else Side.SELL


def _done(cell: CellState) -> bool:
    return not cell.is_live and cell.holding == 0


@dataclass
class _Grid:
    """The state's grid as mutable lists, for one mark's shifts."""

    state: SessionState
    lines: list[Decimal]
    sides: list[Side | None]
    quantities: list[Decimal]
    cells: list[CellState]
    numbers: list[int]
    next_number: int
    below: int  # retired cells at the bottom
    above: int  # retired cells at the top
    parked: set[int]
    ledger: Ledger
    close_sequence: int
    shifts: int = 0  # made by this mark

    @classmethod
    def of(cls, state: SessionState) -> _Grid:
        plan = state.plan
        numbers = list(plan.numbers) if plan.numbers else list(range(len(state.cells)))
        return cls(
            state,
            list(plan.lines),
            list(plan.entry_sides),
            list(plan.quantities),
            list(state.cells),
            numbers,
            plan.next_number if plan.numbers else len(state.cells),
            plan.retired_below,
            plan.retired_above,
            set(state.parked_cells),
            state.ledger,
            state.close_sequence,
        )

    def plan(self) -> GridPlan:
        base = self.state.plan
        return GridPlan(
            tuple(self.lines),
            tuple(self.sides),
            tuple(self.quantities),
            base.margin_per_cell,
            tuple(self.numbers),
            self.next_number,
            self.below,
            self.above,
            base.shifts + self.shifts,
        )

    def result(self) -> SessionState:
        return self.state._replace(
            plan=self.plan(),
            cells=tuple(self.cells),
            parked_cells=frozenset(self.parked),
            ledger=self.ledger,
            close_sequence=self.close_sequence,
        )

    # --- the window -------------------------------------------------------------------------------

    @property
    def top_line(self) -> int:
        return len(self.lines) - 1 - self.above

    def _step_line(self, line: Decimal, up: bool) -> Decimal | None:
        config, rules = self.state.config, self.state.rules
        if config.grid_type is GridType.GEOMETRIC:
            assert config.grid_ratio is not None
            factor = 1 + config.grid_ratio if up else 1 - config.grid_ratio
            raw = line * factor
        else:
            interval = (config.upper_price - config.lower_price) / (config.grid_levels - 1)
            raw = line + interval if up else line - interval
        new = round_to_tick(raw, rules.quote_tick)
        if (new <= line if up else new >= line) or new <= 0:
            return None  # a step below one tick, or a price the venue cannot take
        if up and rules.quote_max > 0 and new > rules.quote_max:
            return None
        if not up and rules.quote_min > 0 and new < rules.quote_min:
            return None
        return new

    def target(self, up: bool) -> Decimal | None:
        """The line whose crossing shifts the grid one cell up (down), within the limit, or None."""
        config = self.state.config
        if up:
            if not config.trailing_up:
                return None
            line = (
                self.lines[self.top_line + 1]
                if self.above
                else self._step_line(self.lines[self.top_line], True)
            )
            limit = config.trailing_up_limit
            return None if line is None or (limit is not None and line > limit) else line
        if not config.trailing_down:
            return None
        line = self.lines[self.below - 1] if self.below else self._step_line(self.lines[self.below], False)
        limit = config.trailing_down_limit
        return None if line is None or (limit is not None and line < limit) else line

    def _trading_cells(self) -> int:
        window = range(self.below, len(self.cells) - self.above)
        return max(1, sum(1 for position in window if self.sides[position] is not None))

    def _quantity(self, side: Side, position: int) -> Decimal | None:
        entry = self.lines[position] if side is Side.BUY else self.lines[position + 1]
        return cell_quantity(self.state.config, self.state.rules, self._trading_cells(), entry)

    # --- one shift --------------------------------------------------------------------------------

    def shift(
        self, up: bool, line: Decimal, mark: Decimal, timestamp_ms: int, commands: list[Command]
    ) -> int | None:
        """Shift one cell; returns the added (or re-activated) cell's number, None when it cannot."""
        side = _new_cell_side(self.state.config.direction, up)
        if up:
            position = len(self.cells) - self.above
            reactivate = self.above > 0
        else:
            position = self.below - 1
            reactivate = self.below > 0
        if reactivate:
            cell = self.cells[position]
            if cell.entry_side is None and cell.is_live:
                return None  # its close-cancel is in flight: wait for it to land
            side = cell.entry_side or side
            quantity = self._quantity(side, position)
            if quantity is None:
                return None
            if not cell.is_live and cell.holding == 0:
                cell = cell._replace(side=side)
            self.cells[position] = cell._replace(entry_side=side)
            self.sides[position], self.quantities[position] = side, quantity
            if up:
                self.above -= 1
            else:
                self.below -= 1
        else:
            if up:
                self.lines.append(line)
                position = len(self.cells)
            else:
                self.lines.insert(0, line)
                position = 0
            probe = self._quantity(side, position)
            if probe is None:
                self.lines.pop(-1 if up else 0)
                return None
            new_cell, number = initial_cell(side), self.next_number
            self.next_number += 1
            if up:
                self.sides.append(side)
                self.quantities.append(probe)
                self.cells.append(new_cell)
                self.numbers.append(number)
            else:
                self.sides.insert(0, side)
                self.quantities.insert(0, probe)
                self.cells.insert(0, new_cell)
                self.numbers.insert(0, number)
                self.parked = {parked + 1 for parked in self.parked}
        added = self.numbers[position]
        if up:
            dropped = self.below
            self.below += 1
        else:
            dropped = len(self.cells) - 1 - self.above
            self.above += 1
        self._retire(dropped, timestamp_ms, commands)
        low, high = self.lines[self.below], self.lines[self.top_line]
        direction = ShiftDirection.UP if up else ShiftDirection.DOWN
        commands.append(GridShifted(direction, self.numbers[dropped], added, low, high, mark, timestamp_ms))
        self.shifts += 1
        return added

    def _retire(self, position: int, timestamp_ms: int, commands: list[Command]) -> None:
        cell = self.cells[position]
        self.quantities[position] = ZERO  # it never enters again
        if cell.holding > 0 and cell.entry_side is not None and self.state.config.trailing_close:
            number = self.numbers[position]
            cell, self.ledger, record = settle_exit(number, cell, self.ledger, timestamp_ms)
            if record is not None:
                commands.append(record)
            cell = self._cancel(cell, commands)
            if cell.holding > 0:
                close_side = cell.entry_side.opposite  # type: ignore[union-attr]  # checked above
                close_id = close_order_id(self.state.prefix, close_side, self.close_sequence)
                commands.append(ClosePosition(close_id, close_side, cell.holding))
                self.close_sequence += 1
            cell = cell._replace(entry_side=None, holding=ZERO, entry_value=ZERO, entry_fees=ZERO)
            self.parked.discard(position)
        elif cell.is_live and cell.side is cell.entry_side:
            # An entry order: cancelled. What it traded meanwhile gets its counter order when the
            # cancel lands (engine.order_events): a retired cell still exits what it holds.
            cell = self._cancel(cell, commands)
        if cell.holding == 0:
            self.parked.discard(position)  # a parked exit stays parked: it still owes its counter order
        self.cells[position] = cell

    @staticmethod
    def _cancel(cell: CellState, commands: list[Command]) -> CellState:
        status = transition(cell.status, CellAction.CANCEL_REQUESTED) if cell.is_live else None
        if status is None or cell.client_order_id is None:
            return cell
        commands.append(CancelOrder(cell.client_order_id, cell.order_id))
        return cell._replace(status=status)

    def trim(self) -> None:
        """Drop retired cells at the edges that are done."""
        while self.below > 0 and _done(self.cells[0]) and 0 not in self.parked:
            for values in (self.lines, self.sides, self.quantities, self.cells, self.numbers):
                values.pop(0)
            self.below -= 1
            self.parked = {parked - 1 for parked in self.parked}
        while self.above > 0 and _done(self.cells[-1]) and len(self.cells) - 1 not in self.parked:
            for values in (self.lines, self.sides, self.quantities, self.cells, self.numbers):
                values.pop()
            self.above -= 1


def trimmable(state: SessionState) -> bool:
    """Retired cells at the grid's edges are done: the next mark trims them."""
    plan, cells = state.plan, state.cells
    return (plan.retired_below > 0 and _done(cells[0])) or (plan.retired_above > 0 and _done(cells[-1]))


def apply_trailing(
    state: SessionState, mark: Decimal, timestamp_ms: int
) -> tuple[SessionState, tuple[Command, ...]]:
    """Shift a RUNNING trailing grid as far as `mark` asks; place the added cells' orders."""
    if state.status is not SessionStatus.RUNNING or not trails(state.config):
        return state, _NO_COMMANDS
    grid = _Grid.of(state)
    commands: list[Command] = []
    added: list[int] = []
    for _ in range(MAX_SHIFTS_PER_MARK):
        up_line, down_line = grid.target(True), grid.target(False)
        if up_line is not None and mark >= up_line:
            number = grid.shift(True, up_line, mark, timestamp_ms, commands)
        elif down_line is not None and mark <= down_line:
            number = grid.shift(False, down_line, mark, timestamp_ms, commands)
        else:
            break
        if number is None:
            break
        added.append(number)
    if not added and not trimmable(state):
        return state, _NO_COMMANDS
    grid.trim()
    shifted = grid.result()
    return _place_added(shifted, added, mark, commands)


def _place_added(
    state: SessionState, added: list[int], mark: Decimal, commands: list[Command]
) -> tuple[SessionState, tuple[Command, ...]]:
    """The added cells that are still in the range place their order if it rests at `mark`, else park."""
    plan = state.plan
    cells = list(state.cells)
    parked = set(state.parked_cells)
    for number in dict.fromkeys(added):
        position = plan.position(number)
        if position is None or cells[position].status is not CellStatus.IDLE:
            continue
        wanted = wanted_order(plan, position, cells[position])
        if wanted is None:
            continue
        if rests_at(wanted[0], plan.order_price(position, wanted[0]), mark):
            cells[position], order = place(state.prefix, plan, position, cells[position])
            if order is not None:
                commands.append(order)
        else:
            parked.add(position)
    return state._replace(cells=tuple(cells), parked_cells=frozenset(parked)), tuple(commands)


def shift_targets(state: SessionState) -> tuple[Decimal | None, Decimal | None]:
    """The marks at which the grid would shift next, (up, down) (None: it would not), for a caller
    that only steps the engine at prices that can change something (the backtester's pre-scan)."""
    if state.status is SessionStatus.STOPPED or not trails(state.config):
        return None, None
    grid = _Grid.of(state)
    return grid.target(True), grid.target(False)
