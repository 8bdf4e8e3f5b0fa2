"""`gridctl`: operate orderly-grid sessions from a terminal, built only on the SDK.

    gridctl preview --ticker BTCUSDT --lower 40000 --upper 45000 --levels 6 --margin 1000
    gridctl start   (same flags)          gridctl stop SESSION_ID [--close-position]
    gridctl status SESSION_ID             gridctl list [--status RUNNING]
    gridctl summaries [--since 2026-01-01]  gridctl watch [SESSION_ID] [--after-seq N]
    gridctl sign ACTION --body FILE       (a signed REST body for curl)
    gridctl backtest --csv prices.csv (grid flags) [--plot grid.png]

The wallet key comes from ORDERLY_GRID_WALLET_KEY or a keystore file (--keystore FILE or
ORDERLY_GRID_KEYSTORE; password from ORDERLY_GRID_KEYSTORE_PASSWORD or a prompt), never from an
argument. Exit status: 0 success, 1 the service refused or failed (reason printed), 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO, TypeVar

from google.protobuf.message import Message

from orderly_grid import cli_backtest, cli_history, cli_live, cli_render, cli_sign, key_file
from orderly_grid.client import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WRITE_TIMEOUT_S,
    GridClient,
    MissingWalletError,
    wall_clock_ms,
)
from orderly_grid.errors import GridError
from orderly_grid.params import GridParams
from orderly_grid.session_keys import SCOPES
from orderly_grid.signing import DEFAULT_DOMAIN
from orderly_grid.wallet import Wallet, WalletError, load_wallet

TARGET_ENV = "GRIDCTL_TARGET"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
M = TypeVar("M", bound=Message)
GRID_STATUSES = ("STARTING", "WAITING_TRIGGER", "RUNNING", "STOPPING", "STOPPED", "FAILED")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _time_ms(text: str) -> int:
    """Milliseconds since the epoch, or an ISO 8601 date/time (UTC unless it names a zone)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither ms since the epoch nor an ISO date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _add_grid_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ticker", required=True, help="BTCUSDT or a native symbol such as PERP_BTC_USDC")
    parser.add_argument("--lower", required=True, type=_decimal, help="lower bound (price)")
    parser.add_argument("--upper", required=True, type=_decimal, help="upper bound (price)")
    parser.add_argument("--levels", required=True, type=int, help="number of price lines incl. both bounds")
    parser.add_argument("--margin", required=True, type=_decimal, help="total margin (USDC)")
    parser.add_argument(
        "--price", type=_decimal, help="the price you expect; refused if too far from the venue's mark"
    )
    parser.add_argument(
        "--price-tolerance", type=_decimal, help="how far --price may be from the mark (0.01 = 1 %%, max .05)"
    )
    parser.add_argument("--direction", default="BOTH", choices=("LONG", "SHORT", "BOTH"), type=str.upper)
    parser.add_argument(
        "--grid-type", default="ARITHMETIC", choices=("ARITHMETIC", "GEOMETRIC"), type=str.upper
    )
    parser.add_argument("--ratio", type=_decimal, help="line ratio for GEOMETRIC grids, in [0.01, 0.1]")
    parser.add_argument("--leverage", type=int, default=1)
    parser.add_argument("--trigger", type=_decimal, help="wait until the mark price crosses this")
    parser.add_argument("--stop-loss", type=_decimal, help="stop when the mark falls to this")
    parser.add_argument("--take-profit", type=_decimal, help="stop when the mark rises to this")
    parser.add_argument("--close-on-stop", action="store_true", help="close the position on any stop")
    parser.add_argument("--trailing-up", action="store_true", help="follow the price up, a cell at a time")
    parser.add_argument("--trailing-down", action="store_true", help="follow the price down")
    parser.add_argument("--trailing-up-limit", type=_decimal, help="never shift the top line above this")
    parser.add_argument("--trailing-down-limit", type=_decimal, help="never shift the bottom line below this")
    parser.add_argument(
        "--trailing-close", action="store_true", help="close a dropped cell's inventory (reduce-only)"
    )


def build_parser() -> argparse.ArgumentParser:
    # No abbreviations: `--key` must not quietly mean `--keystore`.
    parser = argparse.ArgumentParser(
        prog="gridctl", description="Operate orderly-grid sessions.", allow_abbrev=False
    )
    parser.add_argument(
        "--target",
        default=os.environ.get(TARGET_ENV, DEFAULT_TARGET),
        help=f"gRPC address of the service (default ${TARGET_ENV} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--keystore",
        help="encrypted keystore JSON file (password: $ORDERLY_GRID_KEYSTORE_PASSWORD or prompt)",
    )
    parser.add_argument("--json", action="store_true", help="print responses as JSON (fills as JSON lines)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="deadline of each read, in seconds"
    )
    parser.add_argument(
        "--write-timeout",
        type=float,
        default=DEFAULT_WRITE_TIMEOUT_S,
        help="deadline of start and stop, in seconds",
    )
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="signing domain the server expects")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, allow_abbrev=False)

    _add_grid_flags(command("preview", "show the lines and orders of a grid, start nothing"))
    _add_grid_flags(command("start", "start a grid session"))
    backtest = command("backtest", "backtest a grid on a CSV of prices (on the service), start nothing")
    _add_grid_flags(backtest)
    cli_backtest.add_flags(backtest)

    stop = command("stop", "stop a session: cancel its orders")
    stop.add_argument("session_id")
    close = stop.add_mutually_exclusive_group()
    close.add_argument(
        "--close-position",
        dest="close_position",
        action="store_const",
        const=True,
        help="also close the session's position with a reduce-only market order",
    )
    close.add_argument(
        "--keep-position",
        dest="close_position",
        action="store_const",
        const=False,
        help="leave the position open on the account",
    )
    stop.epilog = (
        "Default (neither flag): what the grid was started with: --keep-position, unless it was "
        "started with --close-on-stop."
    )

    status = command("status", "the full state of one session")
    status.add_argument("session_id")

    listing = command("list", "your sessions, newest first")
    listing.add_argument("--status", choices=GRID_STATUSES, type=str.upper)

    summaries = command("summaries", "session summaries with totals")
    summaries.add_argument("--status", choices=GRID_STATUSES, type=str.upper)
    summaries.add_argument("--since", type=_time_ms, default=0, help="created at or after (ms or ISO date)")
    summaries.add_argument("--until", type=_time_ms, default=0, help="created before (ms or ISO date)")

    history = command("history", "a run's PnL history: a table, or a plot with --plot")
    history.add_argument("session_id")
    history.add_argument("--run", default="", help="the run id (default: the session's latest run)")
    history.add_argument(
        "--resolution", type=float, default=0, help="at most one periodic point per this many seconds"
    )
    history.add_argument(
        "--plot", type=Path, help="write total PnL and price with the fills to FILE.png/.svg"
    )

    sign = command("sign", "sign a REST call: print its JSON body with user_auth (and the headers)")
    sign.add_argument("action", metavar="ACTION", help=f"the RPC: {', '.join(cli_sign.SIGNED_ACTIONS)}")
    sign.add_argument(
        "--body", required=True, metavar="FILE", help="the JSON body without user_auth ('-': stdin)"
    )
    sign.epilog = (
        "Example: gridctl sign StopGrid --body stop.json | "
        "curl -s -X POST localhost:8001/api/grid/stop -H 'content-type: application/json' -d @-"
    )

    login = command("login", "authorize a session key with the wallet once; later calls use it")
    login.add_argument(
        "--scope", action="append", choices=SCOPES, help="read (default), trade; repeat for several"
    )
    login.add_argument("--hours", type=float, default=24.0, help="lifetime of the key (at most 168)")
    command("logout", "revoke the session key and delete it")

    watch = command("watch", "live fills and PnL (all sessions, or one)")
    watch.add_argument("session_id", nargs="?", default="")
    watch.add_argument("--after-seq", type=int, default=0, help="resume after this fill seq (0: replay all)")
    watch.add_argument("--limit", type=int, help="exit after this many fills")
    return parser


def grid_params(args: argparse.Namespace) -> GridParams:
    return GridParams(
        ticker=args.ticker,
        lower_bound=args.lower,
        upper_bound=args.upper,
        grid_levels=args.levels,
        total_margin=args.margin,
        current_price=args.price,
        direction=args.direction,
        grid_type=args.grid_type,
        grid_ratio=args.ratio,
        leverage=args.leverage,
        trigger_price=args.trigger,
        stop_loss_price=args.stop_loss,
        take_profit_price=args.take_profit,
        close_position_on_stop=args.close_on_stop,
        price_tolerance=args.price_tolerance,
        trailing_up=args.trailing_up,
        trailing_down=args.trailing_down,
        trailing_up_limit=args.trailing_up_limit,
        trailing_down_limit=args.trailing_down_limit,
        trailing_close=args.trailing_close,
    )


async def run(args: argparse.Namespace, wallet: Wallet | None, out: TextIO, err: TextIO) -> int:
    """Run one parsed command; returns the exit status."""
    stored = key_file.load(wallet) if wallet is not None else None
    if stored is not None and stored.expires_at_ms <= wall_clock_ms():
        stored = None  # expired: the wallet signs until the next `gridctl login`
    async with GridClient(
        args.target,
        wallet=wallet,
        domain=args.domain,
        timeout_s=args.timeout,
        write_timeout_s=args.write_timeout,
        session_key=stored,
    ) as client:
        command = args.command
        if command == "login":
            assert wallet is not None
            key = await client.create_session_key(args.scope or ["read"], ttl_ms=int(args.hours * 3_600_000))
            path = key_file.save(wallet, key)
            err.write(f"session key {key.key_id} ({', '.join(key.scopes)}) saved to {path}\n")
            return EXIT_OK
        if command == "logout":
            assert wallet is not None
            revoked = await client.revoke_session_key() if stored is not None else 0
            removed = key_file.remove(wallet)
            err.write(f"revoked {revoked} session key(s); {'removed' if removed else 'no'} key file\n")
            return EXIT_OK

        def show(message: M, text_of: Callable[[M], str]) -> None:
            out.write((cli_render.as_json(message) if args.json else text_of(message)) + "\n")

        if command == "preview":
            show(await client.preview_grid(grid_params(args)), cli_render.preview_text)
        elif command == "start":
            params = grid_params(args)
            if args.json:
                grid = await client.start_grid(params)
            else:
                grid = await cli_live.start_with_progress(client, params, err)
            show(grid, cli_render.grid_text)
        elif command == "backtest":
            await _backtest(client, args, out, err)
        elif command == "stop":
            show(
                await client.stop_grid(args.session_id, close_position=args.close_position),
                cli_render.grid_text,
            )
        elif command == "status":
            show(await client.get_grid(args.session_id), cli_render.grid_text)
        elif command == "list":
            grids = [g async for g in client.iter_grids(status=args.status)]
            if args.json:
                out.write(cli_render.json_list("grids", grids) + "\n")
            else:
                out.write(cli_render.grids_table(grids) + "\n")
        elif command == "summaries":
            response = await client.list_summaries(
                status=args.status, start_time_ms=args.since, end_time_ms=args.until, page_size=500
            )
            show(response, cli_render.summaries_text)
        elif command == "history":
            points = [
                point
                async for point in client.iter_grid_history(
                    args.session_id, run_id=args.run, resolution_ms=int(args.resolution * 1000)
                )
            ]
            run_id = args.run or (await client.get_grid(args.session_id)).run_id
            if args.plot is not None:
                cli_history.plot_history(points, f"{args.session_id}  run {run_id}", args.plot)
                err.write(f"wrote {args.plot} ({len(points)} points)\n")
            if args.json:
                out.write(cli_render.json_list("points", points) + "\n")
            elif args.plot is None:
                out.write(cli_history.history_text(points, run_id) + "\n")
        elif command == "watch":
            await cli_live.watch(
                client,
                args.session_id,
                args.after_seq,
                out,
                err,
                json_lines=args.json,
                limit=args.limit,
                emit_json=cli_render.as_json_line,
            )
        out.flush()
    return EXIT_OK


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ValueError(f"--body: cannot read {path} ({exc.strerror})") from None


def restore_ctrl_c() -> None:
    """Make Ctrl-C raise KeyboardInterrupt even when SIGINT was inherited as ignored.

    A process started in the background by a non-interactive shell (`gridctl watch &` in a script,
    a test suite launched with `&`) inherits SIGINT as SIG_IGN, and Python then installs no handler
    of its own: `watch` could not be stopped with SIGINT at all."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


async def _backtest(client: GridClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    prices_csv = args.csv.read_text()  # OSError: a usage error, reported by main
    result = await client.backtest_grid(
        grid_params(args),
        prices_csv,
        bar_order=args.bar_order,
        maker_fee_rate=args.maker_fee,
        taker_fee_rate=args.taker_fee,
        funding_rate=args.funding_rate,
        resolution=args.resolution,
        omit_fills=args.omit_fills,
        on_progress=cli_backtest.progress_bar(err) if err.isatty() else None,
    )
    if args.plot is not None:
        cli_backtest.plot_result(result, args.plot)
        err.write(f"wrote {args.plot}\n")
    out.write((cli_render.as_json(result) if args.json else cli_backtest.result_text(result)) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    restore_ctrl_c()
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    out, err = sys.stdout, sys.stderr
    try:
        # Prompt for a keystore password only when someone can answer.
        prompt = getpass.getpass if sys.stdin.isatty() else None
        public = args.command in ("preview", "backtest")  # these need no signature
        wallet = None if public else load_wallet(keystore=args.keystore, prompt=prompt)
        if args.command == "sign":
            assert wallet is not None
            body = sys.stdin.read() if args.body == "-" else _read_text(args.body)
            cli_sign.run_sign(wallet, args.domain, args.action, body, out, err)
            return EXIT_OK
        return asyncio.run(run(args, wallet, out, err))
    except GridError as exc:
        err.write(cli_render.error_text(exc) + "\n")
        if cli_render.is_unreachable(exc):
            err.write(cli_render.how_to_start(args.target) + "\n")
        return EXIT_FAILED
    except (WalletError, MissingWalletError, ValueError, OSError) as exc:
        err.write(f"gridctl: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Ctrl-C: the running call was cancelled and the stream closed; quitting `watch` is success.
        err.write("\n")
        return EXIT_OK if args.command == "watch" else 130


if __name__ == "__main__":
    sys.exit(main())
