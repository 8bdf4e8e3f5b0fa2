/**
 * The client's call policy, over an in-memory transport (connect's router transport): reads are
 * retried on UNAVAILABLE with a fresh nonce each attempt, writes never are, every call carries its
 * deadline, and a user call without a signer fails before anything is sent.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { generatePrivateKey } from "viem/accounts";

import { GridSchema } from "../src/gen/orderly_grid/v1/grid_pb.js";
import { GridClient, GridService, MissingSignerError, ServiceUnavailable, walletSigner } from "../src/index.js";

const noWait = { delayMs: () => 0 };

/** A GridService whose GetGrid and StartGrid fail `failures` times with UNAVAILABLE, then answer. */
function flakyService(failures: number) {
  const seen = { nonces: [] as string[], timeouts: [] as (number | undefined)[] };
  let left = failures;
  const answer = (nonce: string, ctx: HandlerContext) => {
    seen.nonces.push(nonce);
    seen.timeouts.push(ctx.timeoutMs());
    if (left-- > 0) {
      throw new ConnectError("try again", Code.Unavailable);
    }
    return { grid: create(GridSchema, { sessionId: "s" }) };
  };
  const transport = createRouterTransport(({ service }) => {
    service(GridService, {
      getGrid: (request, ctx) => answer(request.userAuth?.nonce ?? "", ctx),
      startGrid: (request, ctx) => answer(request.userAuth?.nonce ?? "", ctx),
    });
  });
  return { transport, seen };
}

describe("GridClient call policy", () => {
  it("retries a read on UNAVAILABLE, signing each attempt afresh, with its deadline", async () => {
    const { transport, seen } = flakyService(2);
    const client = new GridClient({ transport, signer: walletSigner(generatePrivateKey()), backoff: noWait, timeoutMs: 4000 });
    const grid = await client.getGrid("s");
    assert.equal(grid.sessionId, "s");
    assert.equal(seen.nonces.length, 3);
    assert.equal(new Set(seen.nonces).size, 3, "a nonce was reused");
    assert.ok(seen.timeouts.every((t) => t !== undefined && t > 3000 && t <= 4000), `timeouts ${seen.timeouts.join(",")}`);
  });

  it("gives up on a read after `retries` retries", async () => {
    const { transport, seen } = flakyService(10);
    const client = new GridClient({ transport, signer: walletSigner(generatePrivateKey()), backoff: noWait, retries: 2 });
    await assert.rejects(client.getGrid("s"), ServiceUnavailable);
    assert.equal(seen.nonces.length, 3);
  });

  it("never retries a write, and gives it the write deadline", async () => {
    const { transport, seen } = flakyService(1);
    const client = new GridClient({ transport, signer: walletSigner(generatePrivateKey()), backoff: noWait, writeTimeoutMs: 30_000 });
    const params = { ticker: "BTCUSDT", lowerBound: "1", upperBound: "2", gridLevels: 2, totalMargin: "1" };
    await assert.rejects(client.startGrid(params), ServiceUnavailable);
    assert.equal(seen.nonces.length, 1);
    assert.ok((seen.timeouts[0] ?? 0) > 29_000);
  });

  it("refuses user calls without a signer, and floats for prices", async () => {
    const client = new GridClient({ transport: flakyService(0).transport });
    await assert.rejects(client.getGrid("s"), MissingSignerError);
    const params = { ticker: "BTCUSDT", lowerBound: 1 as unknown as string, upperBound: "2", gridLevels: 2, totalMargin: "1" };
    await assert.rejects(client.previewGrid(params), /lowerBound: must be decimal text/);
  });
});
