"""The pure grid core: level math, market rules, per-cell state machine and PnL.

No I/O, no asyncio, no clock, no randomness: `step(state, event) -> (state, commands)`.
"""
