/**
 * Stop your BTC grid (or the session whose id you pass), cancel its orders and close its position.
 *
 *   ORDERLY_GRID_WALLET_KEY=0x... node dist/examples/stop.js [SESSION_ID]
 */
import { GridStatus, SessionNotFound, connectGrid, walletSigner } from "@orderly-grid/client/node";

const key = process.env["ORDERLY_GRID_WALLET_KEY"] as `0x${string}` | undefined;
if (key === undefined) {
  throw new Error("set ORDERLY_GRID_WALLET_KEY to a test wallet key (never pass keys as arguments)");
}
const client = connectGrid(process.env["GRIDCTL_TARGET"] ?? "localhost:50051", { signer: walletSigner(key) });

const sessionId = process.argv[2] ?? client.sessionId("BTCUSDT");
try {
  const stopped = await client.stopGrid(sessionId, { closePosition: true });
  console.log(`stopped ${stopped.sessionId}: ${GridStatus[stopped.status]}, ${stopped.openOrders.length} open orders left`);
  console.log(`realized ${stopped.pnl?.realized || "0"}, round trips ${stopped.pnl?.roundTrips ?? 0n}`);
} catch (error) {
  if (!(error instanceof SessionNotFound)) {
    throw error;
  }
  console.log(`no session ${sessionId}: ${error.reason}`);
}
