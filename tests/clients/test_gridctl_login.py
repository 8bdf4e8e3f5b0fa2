"""gridctl login / logout as a subprocess against the real service: the session key is kept
encrypted (0600) in the config folder, used for reads, and revoked by logout."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from orderly_grid import key_file
from orderly_grid.client import GridClient
from orderly_grid.errors import Unauthenticated
from orderly_grid.wallet import Wallet

from tests.clients.conftest import WALLET_KEY
from tests.clients.processes import Finished, client_env, finish, spawn
from tests.clients.service import LoopbackService


async def gridctl_in(config: Path, target: str, *args: str) -> Finished:
    env = {**client_env(target, WALLET_KEY), "XDG_CONFIG_HOME": str(config)}
    return await finish(await spawn(["-m", "orderly_grid.cli", *args], env))


async def test_login_keeps_an_encrypted_key_that_reads_and_logout_revokes_it(
    service: LoopbackService, wallet: Wallet, tmp_path: Path
) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    login = await gridctl_in(tmp_path, service.target, "login", "--hours", "2")
    assert login.returncode == 0, login.stderr
    path = key_file.key_path(wallet, environ)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert WALLET_KEY.removeprefix("0x") not in path.read_text()
    key = key_file.load(wallet, environ)
    assert key is not None
    assert key.scopes == ("read",)
    assert key.key_id in login.stderr

    listed = await gridctl_in(tmp_path, service.target, "--json", "list")
    assert listed.returncode == 0, listed.stderr

    # Another wallet cannot open the file (copied under its name).
    path.rename(tmp_path / "moved.json")
    other = Wallet.from_key("0x" + "59" * 32)
    key_file.key_path(other, environ).write_bytes((tmp_path / "moved.json").read_bytes())
    with pytest.raises(key_file.KeyFileError):
        key_file.load(other, environ)
    (tmp_path / "moved.json").rename(path)

    logout = await gridctl_in(tmp_path, service.target, "logout")
    assert logout.returncode == 0, logout.stderr
    assert "revoked 1" in logout.stderr
    assert not path.exists()
    async with GridClient(service.target, wallet=wallet, session_key=key) as client:
        with pytest.raises(Unauthenticated) as refused:
            await client.list_grids()
    assert refused.value.reason == "SESSION_KEY_REVOKED"
