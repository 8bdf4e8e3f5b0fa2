/**
 * Follow the fills of all your sessions (or one: pass its id). The stream resumes by itself after a
 * disconnect or a server restart, without missing or repeating a fill.
 *
 *   ORDERLY_GRID_WALLET_KEY=0x... node dist/examples/watch.js [MAX_FILLS] [SESSION_ID]
 */
import { connectGrid, walletSigner } from "@orderly-grid/client/node";

const key = process.env["ORDERLY_GRID_WALLET_KEY"] as `0x${string}` | undefined;
if (key === undefined) {
  throw new Error("set ORDERLY_GRID_WALLET_KEY to a test wallet key (never pass keys as arguments)");
}
const maxFills = process.argv[2] === undefined ? Infinity : Number(process.argv[2]);
const client = connectGrid(process.env["GRIDCTL_TARGET"] ?? "localhost:50051", { signer: walletSigner(key) });

const fills = client.watchFills(process.argv[3] ?? "");
let seen = 0;
for await (const fill of fills) {
  const trip = fill.roundTrip ? `, round trip ${fill.roundTrip.profit}` : "";
  console.log(`#${fill.seq} ${fill.sessionId} ${fill.quantity} @ ${fill.price}${trip}`);
  seen += 1;
  if (seen >= maxFills) {
    break; // leaving the loop ends the call
  }
}
console.log(`resume later with afterSeq=${fills.lastSeq}`);
