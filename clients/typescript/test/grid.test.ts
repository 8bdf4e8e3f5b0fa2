/**
 * The SDK against the real service (simulator + `orderly-grid serve`), over gRPC (HTTP/2) and over
 * the REST shim: start, get, list, watch and stop a grid, typed errors, and a fill stream that
 * resumes across a server restart without losing or repeating a fill.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { generatePrivateKey } from "viem/accounts";

import {
  DuplicateGridSession,
  GridClient,
  GridStatus,
  InvalidArgument,
  SessionNotFound,
  Side,
  createRestTransport,
  walletSigner,
  type Fill,
  type FillStream,
  type GridParams,
} from "../src/index.js";
import { createGridTransport } from "../src/node.js";
import { RunningService, waitUntil } from "./service.js";

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");

const BTC: GridParams = {
  ticker: "BTCUSDT",
  lowerBound: "40000",
  upperBound: "45000",
  gridLevels: 6,
  totalMargin: "1000",
  currentPrice: "42500",
  direction: "BOTH",
};

/** Drains a FillStream in the background; tests wait on what arrived. */
class Collected {
  readonly fills: Fill[] = [];
  error: unknown;
  readonly done: Promise<void>;

  constructor(readonly stream: FillStream) {
    this.done = (async () => {
      try {
        for await (const fill of stream) {
          this.fills.push(fill);
        }
      } catch (error) {
        this.error = error;
      }
    })();
  }

  async until(count: number, what: string): Promise<void> {
    await waitUntil(async () => {
      if (this.error !== undefined) {
        throw new Error(`the stream failed: ${String(this.error)}`);
      }
      return this.fills.length >= count;
    }, what);
  }

  async untilLive(what: string): Promise<void> {
    await waitUntil(async () => this.stream.live, what);
  }

  async close(): Promise<void> {
    this.stream.close();
    await this.done;
  }
}

/** A fresh wallet per test: the per-wallet rate limits and sessions never collide. */
function grpcClient(service: RunningService): GridClient {
  return new GridClient({ transport: createGridTransport(service.target), signer: walletSigner(generatePrivateKey()) });
}

async function restingOrder(client: GridClient, sessionId: string, side: Side, price: string): Promise<void> {
  await waitUntil(async () => {
    const grid = await client.getGrid(sessionId);
    return grid.openOrders.some((o) => o.side === side && Number(o.price) === Number(price) && o.orderId !== "");
  }, `a resting ${Side[side]} at ${price}`);
}

describe("the SDK against the real service", () => {
  const service = new RunningService();
  before(async () => service.start());
  after(async () => service.stop());
  // Every test starts with the mark where BTC begins (each stops its grid before it ends).
  beforeEach(async () => {
    await service.setPrice("42500");
  });

  it("starts, gets, lists and stops a grid over gRPC", async () => {
    const client = grpcClient(service);
    const preview = await client.previewGrid(BTC);
    assert.equal(preview.symbol, "PERP_BTC_USDC");
    assert.equal(preview.orders.length, 5);

    const grid = await client.startGrid(BTC);
    assert.equal(grid.sessionId, client.sessionId("BTCUSDT"));
    assert.equal(grid.status, GridStatus.RUNNING);
    assert.deepEqual(grid.lines.map(Number), [40000, 41000, 42000, 43000, 44000, 45000]);
    assert.equal(grid.openOrders.length, 5);

    const fetched = await client.getGrid(grid.sessionId);
    assert.equal(fetched.sessionId, grid.sessionId);
    const listed = [];
    for await (const g of client.iterGrids({ status: "RUNNING" })) {
      listed.push(g.sessionId);
    }
    assert.deepEqual(listed, [grid.sessionId]);
    const summaries = await client.listSummaries({ startTimeMs: 1 });
    assert.equal(summaries.totals?.sessionCount, 1n);

    await assert.rejects(client.startGrid(BTC), DuplicateGridSession);
    const stopped = await client.stopGrid(grid.sessionId, { closePosition: true });
    assert.equal(stopped.status, GridStatus.STOPPED);
    assert.equal(stopped.openOrders.length, 0);
  });

  it("throws typed errors with the reason, field violations and the gRPC code", async () => {
    const client = grpcClient(service);
    await assert.rejects(client.getGrid(client.sessionId("PERP_SOL_USDC")), (error: unknown) => {
      assert.ok(error instanceof SessionNotFound);
      assert.equal(error.reason, "SESSION_NOT_FOUND");
      return true;
    });
    await assert.rejects(client.previewGrid({ ...BTC, lowerBound: "46000" }), (error: unknown) => {
      assert.ok(error instanceof InvalidArgument);
      assert.ok(error.fieldViolations.some((v) => v.field.endsWith("upper_bound") || v.field.endsWith("lower_bound")), String(error));
      return true;
    });
  });

  it("starts, gets and stops a grid over the REST shim (fetch)", async () => {
    const client = new GridClient({ transport: createRestTransport({ baseUrl: service.restUrl }), signer: walletSigner(generatePrivateKey()) });
    const grid = await client.startGrid(BTC);
    assert.equal(grid.status, GridStatus.RUNNING);
    assert.equal(grid.config?.direction, 3); // DIRECTION_BOTH: the shim's "BOTH" expanded back
    const fetched = await client.getGrid(grid.sessionId);
    assert.equal(fetched.openOrders.length, 5);
    assert.ok(fetched.openOrders.every((o) => o.side === Side.BUY || o.side === Side.SELL));
    const page = await client.listGrids({ status: "RUNNING", pageSize: 10 });
    assert.deepEqual(page.grids.map((g) => g.sessionId), [grid.sessionId]);
    await assert.rejects(client.startGrid(BTC), DuplicateGridSession);
    await assert.rejects(client.getGrid(client.sessionId("PERP_SOL_USDC")), SessionNotFound);
    await assert.rejects(client.previewGrid({ ...BTC, gridLevels: 1 }), (error: unknown) => {
      assert.ok(error instanceof InvalidArgument);
      assert.ok(error.fieldViolations.some((v) => v.field.includes("grid_levels")), String(error));
      return true;
    });
    const stopped = await client.stopGrid(grid.sessionId, { closePosition: true });
    assert.equal(stopped.status, GridStatus.STOPPED);
  });

  it("watches fills live, then resumes across a server restart, each fill once (gRPC)", async () => {
    const client = grpcClient(service);
    const rest = new GridClient({ transport: createRestTransport({ baseUrl: service.restUrl }), signer: walletSigner(generatePrivateKey()) });
    const grid = await client.startGrid(BTC);
    const reconnects: string[] = [];
    const watch = new Collected(client.watchFills(grid.sessionId, { onReconnect: (e) => reconnects.push(e?.reason ?? "ended") }));
    try {
      await watch.untilLive("the replay marker");
      assert.equal(await service.setPrice("41950"), 1);
      await watch.until(1, "the buy fill at 42000");
      await restingOrder(client, grid.sessionId, Side.SELL, "43000");
      await service.setPrice("43050");
      await watch.until(2, "the counter sell at 43000");

      // The REST transport streams the same ledger as NDJSON.
      const restWatch = new Collected(rest.watchFills());
      await restWatch.untilLive("the REST replay marker");
      await restWatch.close();

      await service.stopService(); // the stream ends; the SDK keeps resubscribing
      await service.startService(); // same ports and store: the session resumes
      await watch.untilLive("the resumed subscription");
      await restingOrder(client, grid.sessionId, Side.BUY, "42000");
      await service.setPrice("41950");
      await watch.until(3, "a live fill after the restart");
    } finally {
      await watch.close();
    }
    const [buy, sell, again] = watch.fills;
    assert.deepEqual(watch.fills.map((f) => f.seq), [1n, 2n, 3n]);
    assert.equal(buy?.side, Side.BUY);
    assert.equal(Number(buy?.price), 42000);
    assert.equal(sell?.side, Side.SELL);
    assert.ok(sell?.roundTrip !== undefined && Number(sell.roundTrip.profit) > 0);
    assert.equal(again?.side, Side.BUY);
    assert.equal(watch.stream.lastSeq, 3n);
    assert.ok(watch.stream.reconnects >= 1, `reconnects: ${reconnects.join(",")}`);
    await client.stopGrid(grid.sessionId, { closePosition: true });
  });

  it("runs the examples as written: start, watch, stop", async () => {
    const key = generatePrivateKey();
    const env = { ...process.env, ORDERLY_GRID_WALLET_KEY: key, GRIDCTL_TARGET: service.target };
    const run = async (name: string, ...args: string[]): Promise<string> =>
      (await promisify(execFile)(process.execPath, [join(EXAMPLES, name), ...args], { env, timeout: 60_000 })).stdout;

    const started = await run("start.js");
    assert.match(started, /PERP_BTC_USDC: 5 orders/);
    assert.match(started, /started 0x[0-9a-f]{40}_BTCUSDT with 5 open orders/);
    assert.match(started, /status RUNNING/);

    const watcher = spawn(process.execPath, [join(EXAMPLES, "watch.js"), "2"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let watched = "";
    watcher.stdout.on("data", (d: Buffer) => (watched += d.toString()));
    const watcherExit = new Promise<number | null>((r) => watcher.once("exit", r));
    const client = new GridClient({ transport: createGridTransport(service.target), signer: walletSigner(key) });
    const sessionId = client.sessionId("BTCUSDT");
    // The watcher has replayed (nothing yet) before the first fill; fills made earlier would replay anyway.
    await service.setPrice("41950");
    await restingOrder(client, sessionId, Side.SELL, "43000");
    await service.setPrice("43050");
    assert.equal(await watcherExit, 0);
    assert.match(watched, /#\d+ 0x[0-9a-f]{40}_BTCUSDT [0-9.]+ @ 42000/);
    assert.match(watched, /@ 43000(\.0+)?, round trip [0-9.]+/);
    assert.match(watched, /resume later with afterSeq=\d+/);

    const stopped = await run("stop.js");
    assert.match(stopped, /stopped 0x[0-9a-f]{40}_BTCUSDT: STOPPED, 0 open orders left/);
    assert.match(stopped, /round trips 1/);
    assert.match(await run("stop.js", client.sessionId("PERP_SOL_USDC")), /SESSION_NOT_FOUND/);
  });
});
