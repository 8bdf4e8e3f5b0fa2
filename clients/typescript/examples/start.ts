/**
 * Preview and start a grid on BTC, then show it.
 *
 *   ORDERLY_GRID_WALLET_KEY=0x... node dist/examples/start.js
 *
 * GRIDCTL_TARGET picks the server (default localhost:50051, e.g. `make run` with its built-in simulator).
 */
import { DuplicateGridSession, GridStatus, connectGrid, walletSigner, type GridParams } from "@orderly-grid/client/node";

const key = process.env["ORDERLY_GRID_WALLET_KEY"] as `0x${string}` | undefined;
if (key === undefined) {
  throw new Error("set ORDERLY_GRID_WALLET_KEY to a test wallet key (never pass keys as arguments)");
}
const client = connectGrid(process.env["GRIDCTL_TARGET"] ?? "localhost:50051", { signer: walletSigner(key) });

const params: GridParams = {
  ticker: "BTCUSDT",
  lowerBound: "40000",
  upperBound: "45000",
  gridLevels: 6, // price lines, both bounds included
  totalMargin: "1000",
  currentPrice: "42500",
  direction: "BOTH",
};

const preview = await client.previewGrid(params);
console.log(`${preview.symbol}: ${preview.orders.length} orders, margin ${preview.requiredMargin}`);

let grid;
try {
  grid = await client.startGrid(params);
} catch (error) {
  if (!(error instanceof DuplicateGridSession)) {
    throw error;
  }
  // Still running from an earlier run: stop that one and start afresh.
  await client.stopGrid(client.sessionId(params.ticker));
  grid = await client.startGrid(params);
}
console.log(`started ${grid.sessionId} with ${grid.openOrders.length} open orders`);
grid = await client.getGrid(grid.sessionId);
console.log(`status ${GridStatus[grid.status]}, realized PnL ${grid.pnl?.realized || "0"}`);
