"""The `orderly-grid` command.

Each subcommand lives in its own module and is imported only when used (also for its arguments), so
`orderly-grid --help` stays fast, `serve` starts without the other commands' imports, and a missing
optional dependency breaks only its own command."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Sequence

# name -> (module with `add_arguments(parser)` and `run(args) -> int`, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("server.simulator.cli", "Run the Orderly exchange simulator on a loopback port"),
    "serve": ("server.app", "Run the gRPC service and the REST shim"),
    "rest": ("server.rest.cli", "Run only the REST shim, in front of a gRPC server elsewhere"),
    "backtest": ("server.backtest.cli", "Backtest a grid on a CSV of prices with the live engine"),
    "sweep": ("server.backtest.sweep_cli", "Backtest a space of grid parameters on a CSV and rank them"),
}


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT; the handlers are installed on the running loop now. For the
    subcommands that run until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the `selected` subcommand's module is imported for its arguments (the others
    only list their help), so `serve` does not pay for the simulator's or the backtester's imports."""
    parser = argparse.ArgumentParser(
        prog="orderly-grid",
        description="Grid-trading service for the Orderly Network perpetual-futures DEX.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(selected)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help()
        return 0
    module_name, _ = SUBCOMMANDS[args.command]
    result: int = importlib.import_module(module_name).run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
