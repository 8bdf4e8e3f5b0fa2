"""What `orderly-grid serve` imports before it listens: not eth-account (0.4 s, imported in the
background once serving), and never a recursion limit above Python's default, not even while
eth-account's import (py_ecc raises it) runs beside request parsing."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_the_service_module_does_not_import_eth_account() -> None:
    assert run("import sys, server.app; print('eth_account' in sys.modules)") == "False"


def test_importing_eth_account_in_the_background_never_raises_the_recursion_limit() -> None:
    code = """
import sys, threading
from server.recursion_guard import import_eth_account
seen = []
done = threading.Event()
def watch():
    while not done.is_set():
        seen.append(sys.getrecursionlimit())
watcher = threading.Thread(target=watch)
watcher.start()
import_eth_account()
done.set()
watcher.join()
print(max(seen), sys.getrecursionlimit(), 'eth_account' in sys.modules)
"""
    assert run(code) == "1000 1000 True"


def test_a_first_signature_check_puts_the_limit_back() -> None:
    code = """
import sys
from server.auth.verifier import recover_signer
recover_signer("text", "0x" + "00" * 65)
print(sys.getrecursionlimit())
"""
    assert run(code) == "1000"
