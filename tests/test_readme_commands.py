"""Every shell command of README.md and clients/python/README.md runs as written, from a fresh clone
with no virtualenv activated, against `.venv/bin/orderly-grid serve` on the built-in simulator.

Each ```sh block is marked by the html comment before it: `doc-test: run` (run here, the whole block
as one bash script), `doc-test: server` (the server command this test starts itself) or
`doc-test: skip (why)`; an unmarked block fails the test, so a new command is never left unchecked.
The "fresh clone" is a folder of links to this checkout plus `.venv` (the virtualenv running this
test, as `make run` would have created it); PATH holds no virtualenv. The only rewrites: the
documented ports become the test server's (other test runs share the machine), and a line marked
`# ... until Ctrl-C` gets a Ctrl-C after a few seconds, after which it must exit with status 0.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "clients/python/README.md")
MARKED_BLOCK = re.compile(r"<!-- doc-test: (run|server|skip \([^)]+\)) -->\n```sh\n(.*?)```", re.S)
ANY_SHELL_BLOCK = re.compile(r"^```sh$", re.M)
UNTIL_CTRL_C = re.compile(r"^(?P<command>[^#\n]*?)\s*#[^\n]*until Ctrl-C$", re.M)
BANNER = re.compile(r"gRPC on \S+:(\d+) and REST on \S+:(\d+)")
CTRL_C_AFTER_S = 8  # well after start-up (imports take seconds on a loaded machine)
TIMEOUT_S = 60


def blocks(document: str, kind: str) -> list[str]:
    text = (REPO / document).read_text(encoding="utf-8")
    return [body for marker, body in MARKED_BLOCK.findall(text) if marker.split(" ")[0] == kind]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_shell_block_is_marked_run_server_or_skip(document: str) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    assert len(MARKED_BLOCK.findall(text)) == len(ANY_SHELL_BLOCK.findall(text))


def fresh_clone(folder: Path) -> Path:
    folder.mkdir()
    for entry in REPO.iterdir():
        if not entry.name.startswith((".venv", "data", ".git")):
            (folder / entry.name).symlink_to(entry)
    (folder / ".venv").symlink_to(Path(sys.prefix))  # what `make run` creates
    return folder


def clean_env() -> dict[str, str]:
    """A shell without an activated virtualenv; PYTHONPATH kept, as it points at this checkout."""
    path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if ".venv" not in p]
    env = {"PATH": ":".join(path), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def as_run_here(script: str, grpc_port: str, rest_port: str) -> str:
    script = script.replace("localhost:50051", f"localhost:{grpc_port}")
    script = script.replace("localhost:8001", f"localhost:{rest_port}")
    return UNTIL_CTRL_C.sub(
        lambda m: f"timeout --preserve-status -s INT {CTRL_C_AFTER_S} {m['command']}", script
    )


async def run_block(script: str, clone: Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "bash", "-e", "-o", "pipefail", "-c", script,
        cwd=clone, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running after {TIMEOUT_S} s:\n{script}") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_documented_commands_run_as_written(document: str, tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    env = clean_env()
    [server_block] = blocks("clients/python/README.md", "server")
    server_command = server_block.split("#")[0].split()
    server_env = {**env, "GRID_GRPC_PORT": "0", "GRID_REST_PORT": "0"}
    server = await asyncio.create_subprocess_exec(
        *server_command, cwd=clone, env=server_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = (await asyncio.wait_for(server.stdout.readline(), TIMEOUT_S)).decode()
        ports = BANNER.search(banner)
        assert ports, banner
        grpc_port, rest_port = ports.groups()
        # gridctl's and the examples' default target is localhost:50051: here, the test's port.
        env["GRIDCTL_TARGET"] = f"localhost:{grpc_port}"
        scripts = blocks(document, "run")
        assert scripts
        for script in scripts:
            code, out, err = await run_block(as_run_here(script, grpc_port, rest_port), clone, env)
            assert code == 0, f"{script}\n--- stdout\n{out}\n--- stderr\n{err}"
            assert '"success": false' not in out.replace('"success":false', '"success": false'), out
            assert "Traceback" not in err, err
        server.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(server.wait(), TIMEOUT_S) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
