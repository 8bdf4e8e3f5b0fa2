"""gridctl as a subprocess against the real service: every command, exit codes, key from env only."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from decimal import Decimal
from pathlib import Path

from orderly_grid.wallet import Wallet

from server.simulator import SimulatorControl
from tests.clients.conftest import WALLET_KEY
from tests.clients.processes import client_env, finish, gridctl, spawn
from tests.clients.service import LoopbackService, wait_for_resting_order
from tests.integration.harness import SYMBOL

GRID_FLAGS = (
    "--ticker", "BTCUSDT", "--lower", "40000", "--upper", "45000",
    "--levels", "6", "--margin", "1000", "--price", "42500",
)  # fmt: skip


async def test_preview_start_status_list_stop_with_json_output(
    service: LoopbackService, wallet: Wallet
) -> None:
    target = service.target
    preview = await gridctl(target, "--json", "preview", *GRID_FLAGS, wallet_key=None)
    assert preview.returncode == 0, preview.stderr
    assert preview.json()["symbol"] == "PERP_BTC_USDC"
    assert len(preview.json()["orders"]) == 5

    started = await gridctl(target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    grid = started.json()
    session_id = f"{wallet.address.lower()}_BTCUSDT"
    assert grid["session_id"] == session_id
    assert grid["status"] == "GRID_STATUS_RUNNING"
    assert sorted(Decimal(o["price"]) for o in grid["open_orders"]) == [
        Decimal(p) for p in ("40000", "41000", "42000", "44000", "45000")
    ]

    status = await gridctl(target, "--json", "status", session_id, wallet_key=WALLET_KEY)
    assert status.returncode == 0, status.stderr
    assert len(status.json()["open_orders"]) == 5

    listed = await gridctl(target, "--json", "list", "--status", "running", wallet_key=WALLET_KEY)
    assert listed.returncode == 0, listed.stderr
    assert [g["session_id"] for g in listed.json()["grids"]] == [session_id]

    summaries = await gridctl(target, "--json", "summaries", "--since", "2020-01-01", wallet_key=WALLET_KEY)
    assert summaries.returncode == 0, summaries.stderr
    assert summaries.json()["totals"]["session_count"] == "1"

    stopped = await gridctl(target, "--json", "stop", session_id, "--close-position", wallet_key=WALLET_KEY)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.json()["status"] == "GRID_STATUS_STOPPED"
    assert stopped.json().get("open_orders", []) == []


async def test_human_output_shows_the_placed_orders_and_start_progress(service: LoopbackService) -> None:
    started = await gridctl(service.target, "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    assert "status RUNNING" in started.stdout
    assert "open orders (5)" in started.stdout
    # Not a terminal: progress is plain lines on stderr, ending with the placed count.
    assert started.stderr.splitlines()[-1].endswith("5/5 orders placed")
    assert started.stderr.startswith("starting ")


async def test_refusals_exit_1_with_reason_and_fields_usage_errors_exit_2(service: LoopbackService) -> None:
    target = service.target
    missing = await gridctl(target, "status", "0xdead_BTCUSDT", wallet_key=WALLET_KEY)
    assert missing.returncode == 1
    assert "SESSION_NOT_FOUND" in missing.stderr

    bad = await gridctl(
        target, "preview", "--ticker", "BTCUSDT", "--lower", "40000", "--upper", "45000",
        "--levels", "1", "--margin", "1000", "--price", "42500", wallet_key=None,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "INVALID_ARGUMENT" in bad.stderr
    assert "grid_levels:" in bad.stderr

    no_key = await gridctl(target, "list", wallet_key=None)
    assert no_key.returncode == 2
    assert "ORDERLY_GRID_WALLET_KEY" in no_key.stderr

    not_a_number = await gridctl(target, "preview", *GRID_FLAGS[:-1], "42k", wallet_key=None)
    assert not_a_number.returncode == 2
    assert "--price" in not_a_number.stderr

    no_key_argument = await gridctl(target, "--key", WALLET_KEY, "list", wallet_key=None)
    assert no_key_argument.returncode == 2  # there is no way to pass a key on the command line


async def test_watch_prints_live_fills_as_json_lines(
    service: LoopbackService, control: SimulatorControl
) -> None:
    started = await gridctl(service.target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    watcher = await spawn(
        ["-m", "orderly_grid.cli", "--json", "watch", "--limit", "2"], client_env(service.target, WALLET_KEY)
    )
    # The watch replays from seq 0, so fills made before it subscribed are not lost: no need to wait.
    await control.set_price(SYMBOL, "41950")
    await wait_for_resting_order(service.sim, "SELL", "43000")  # the counter order of the buy
    await control.set_price(SYMBOL, "43050")
    finished = await finish(watcher)
    assert finished.returncode == 0, finished.stderr
    fills = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [(f["seq"], f["side"], Decimal(f["price"])) for f in fills] == [
        ("1", "SIDE_BUY", Decimal(42000)),
        ("2", "SIDE_SELL", Decimal(43000)),
    ]


async def test_ctrl_c_ends_watch_cleanly_with_status_0(
    service: LoopbackService, control: SimulatorControl
) -> None:
    started = await gridctl(service.target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    # Started as a background job (SIGINT inherited as ignored): Ctrl-C must still end it.
    watcher = await spawn(
        ["-m", "orderly_grid.cli", "--json", "watch"],
        client_env(service.target, WALLET_KEY),
        background_job=True,
    )
    await control.set_price(SYMBOL, "41950")
    assert watcher.stdout is not None
    first = await asyncio.wait_for(watcher.stdout.readline(), 30)
    assert json.loads(first)["seq"] == "1"  # subscribed and following
    watcher.send_signal(signal.SIGINT)
    finished = await finish(watcher)
    assert finished.returncode == 0
    assert "Traceback" not in finished.stderr


async def test_history_prints_the_runs_points_and_plots_them_with_the_fills(
    service: LoopbackService, wallet: Wallet, control: SimulatorControl, tmp_path: Path
) -> None:
    target = service.target
    started = await gridctl(target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    session_id = started.json()["session_id"]
    await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills
    await wait_for_resting_order(service.sim, "SELL", "43000")

    listed = await gridctl(target, "history", session_id, wallet_key=WALLET_KEY)
    assert listed.returncode == 0, listed.stderr
    assert f"run {started.json()['run_id']}" in listed.stdout
    assert "START" in listed.stdout
    assert "BUY 0.00476 @ 42000" in listed.stdout

    as_json = await gridctl(target, "--json", "history", session_id, wallet_key=WALLET_KEY)
    kinds = [point["kind"] for point in as_json.json()["points"]]
    assert kinds == ["EQUITY_POINT_KIND_START", "EQUITY_POINT_KIND_FILL"]

    plot = tmp_path / "history.png"
    drawn = await gridctl(target, "history", session_id, "--plot", str(plot), wallet_key=WALLET_KEY)
    assert drawn.returncode == 0, drawn.stderr
    assert plot.read_bytes().startswith(b"\x89PNG")


async def test_watch_shows_running_sessions_and_the_venue_before_any_fill(
    service: LoopbackService, wallet: Wallet
) -> None:
    started = await gridctl(service.target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    watcher = await spawn(["-m", "orderly_grid.cli", "watch"], client_env(service.target, WALLET_KEY))
    assert watcher.stderr is not None
    said = (await asyncio.wait_for(watcher.stderr.readline(), 30)).decode()
    session_id = f"{wallet.address.lower()}_BTCUSDT"
    assert f"following 1 running session ({session_id})" in said
    assert "venue simulator (SIMULATED" in said
    watcher.send_signal(signal.SIGINT)
    assert (await finish(watcher)).returncode == 0


async def test_an_unreachable_service_says_how_to_start_it() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{probe.getsockname()[1]}"
    finished = await gridctl(target, "--timeout", "1", "list", wallet_key=WALLET_KEY)
    assert finished.returncode == 1
    assert f"no orderly-grid service answers at {target}" in finished.stderr
    assert "make run" in finished.stderr


async def test_stop_help_names_the_default_and_summaries_count_in_the_singular(
    service: LoopbackService,
) -> None:
    helped = await gridctl(service.target, "stop", "--help", wallet_key=None)
    assert "Default (neither flag)" in helped.stdout
    assert "--keep-position, unless it was started with --close-on-stop" in " ".join(helped.stdout.split())
    started = await gridctl(service.target, "--json", "start", *GRID_FLAGS, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    summaries = await gridctl(service.target, "summaries", wallet_key=WALLET_KEY)
    assert summaries.returncode == 0, summaries.stderr
    assert "1 session (1 active)" in summaries.stdout
    status = await gridctl(service.target, "preview", *GRID_FLAGS, wallet_key=None)
    assert "venue              simulator (SIMULATED" in status.stdout
    assert "quantity per cell" not in status.stdout


async def test_start_takes_the_trailing_flags(service: LoopbackService) -> None:
    flags = ("--trailing-up", "--trailing-up-limit", "47000", "--trailing-close")
    started = await gridctl(service.target, "--json", "start", *GRID_FLAGS, *flags, wallet_key=WALLET_KEY)
    assert started.returncode == 0, started.stderr
    config = started.json()["config"]
    assert (config["trailing_up"], config["trailing_up_limit"], config["trailing_close"]) == (
        True,
        "47000",
        True,
    )
    assert not config.get("trailing_down", False)
    refused = await gridctl(
        service.target,
        "--json",
        "start",
        *GRID_FLAGS,
        "--trailing-down-limit",
        "39000",
        wallet_key=WALLET_KEY,
    )
    assert refused.returncode == 1
    assert "trailing_down_limit" in refused.stderr
