"""Drives the simulator with Orderly's official Python connector (orderly-evm-connector).

Runs in its own venv (.venv-connector) because the connector pins old eth-account/cryptography; the
test passes the simulator's URLs and credentials through SIM_* environment variables and asserts on the
one JSON object this script prints. Not imported by the test suite."""

import json
import os
import sys
import threading

# The connector reads its test endpoints from the environment at import time.
os.environ["ORDERLY_TEST_URL"] = os.environ["SIM_REST_URL"]
os.environ["ORDERLY_TEST_PUBLIC_WS_URL"] = os.environ["SIM_PUBLIC_WS_URL"]
os.environ["ORDERLY_TEST_PRIVATE_WS_URL"] = os.environ["SIM_PRIVATE_WS_URL"]

from orderly_evm_connector.rest import Rest
from orderly_evm_connector.websocket.websocket_api import WebsocketPrivateAPIClient

TIMEOUT_S = 15


def main():
    account_id = os.environ["SIM_ACCOUNT_ID"]
    key = os.environ["SIM_ORDERLY_KEY"]
    secret = os.environ["SIM_ORDERLY_SECRET"]
    frames = []
    lock = threading.Condition()

    def on_message(_manager, message):
        with lock:
            frames.append(json.loads(message))
            lock.notify_all()

    def wait_for(predicate):
        with lock:
            if not lock.wait_for(lambda: any(predicate(f) for f in frames), timeout=TIMEOUT_S):
                raise TimeoutError(f"no matching frame; got {frames!r}")
            return next(f for f in frames if predicate(f))

    ws = WebsocketPrivateAPIClient(
        orderly_testnet=True,
        orderly_account_id=account_id,
        orderly_key=key,
        orderly_secret=secret,
        on_message=on_message,
    )
    ws.get_execution_report()
    auth = wait_for(lambda f: f.get("event") == "auth")
    ack = wait_for(lambda f: f.get("event") == "subscribe")

    client = Rest(
        orderly_key=key,
        orderly_secret=secret,
        orderly_account_id=account_id,
        orderly_testnet=True,
        orderly_api_url=os.environ["SIM_REST_URL"],
    )
    created = client.create_order(
        "PERP_BTC_USDC",
        "LIMIT",
        "BUY",
        client_order_id="connector-1",
        order_price=42000,
        order_quantity=0.001,
    )
    order_id = created["data"]["order_id"]
    queried = client.get_order(order_id)
    cancelled = client.cancel_order(order_id, "PERP_BTC_USDC")
    bad = client.create_order("PERP_BTC_USDC", "LIMIT", "BUY", order_price=42000.05, order_quantity=0.001)

    def report(status):
        return lambda f: f.get("topic") == "executionreport" and f["data"]["status"] == status

    new_report = wait_for(report("NEW"))
    cancelled_report = wait_for(report("CANCELLED"))
    ws.stop()
    print(
        json.dumps(
            {
                "auth": auth,
                "subscribe_ack": ack,
                "created": created,
                "queried": queried,
                "cancelled": cancelled,
                "rejected": bad,
                "new_report": new_report,
                "cancelled_report": cancelled_report,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # report, so the test shows why
        print(json.dumps({"error": repr(exc)}))
        sys.exit(1)
