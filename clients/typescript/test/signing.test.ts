/**
 * Signing as the Python SDK signs: the README's test vector, and a cross-test in both directions
 * with the Python module the server verifies with (test/cross_sign.py): requests signed here
 * recover to the signer in Python, requests signed in Python recover to their user here, and both
 * sides compute the same canonical parameters for every signed action.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { create, fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";

import { Direction, GridStatus, GridType } from "../src/gen/orderly_grid/v1/grid_pb.js";
import {
  GetGridRequestSchema,
  ListGridSummariesRequestSchema,
  ListGridsRequestSchema,
  RegisterAccountRequestSchema,
  StartGridRequestSchema,
  StopGridRequestSchema,
  WatchFillsRequestSchema,
} from "../src/gen/orderly_grid/v1/grid_service_pb.js";
import {
  DEFAULT_DOMAIN,
  buildAuthMessage,
  canonicalParamsDigest,
  canonicalParamsJson,
  recoverSigner,
  walletSigner,
  type SignedAction,
} from "../src/index.js";
import { PYTHON, REPO } from "./service.js";

const CROSS_SIGN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "test", "cross_sign.py");

interface Case {
  action: SignedAction;
  schema: DescMessage;
  request: MessageShape<DescMessage>;
}

const SESSION = "0x5d5c99edf529335160ff180fa141dd4967fc00d2_PERP_BTC_USDC";

/** One request of every signed action, with the JSON corners: enums, optional false, int64, uint64,
 * non-ASCII text (kept raw, as ensure_ascii=False does) and a control character (escaped). */
const CASES: Case[] = [
  {
    action: "StartGrid",
    schema: StartGridRequestSchema,
    request: create(StartGridRequestSchema, {
      ticker: "BTCUSDT",
      direction: Direction.BOTH,
      currentPrice: "42500",
      upperBound: "45000",
      lowerBound: "40000",
      gridLevels: 6,
      totalMargin: "1000.50",
      gridType: GridType.GEOMETRIC,
      gridRatio: "0.01",
      leverage: 3,
      closePositionOnStop: true,
      trailingUp: true,
      trailingUpLimit: "50000",
      trailingClose: true,
    }),
  },
  { action: "StopGrid", schema: StopGridRequestSchema, request: create(StopGridRequestSchema, { sessionId: SESSION, closePosition: false }) },
  { action: "GetGrid", schema: GetGridRequestSchema, request: create(GetGridRequestSchema, { sessionId: "0xabc_é€😀\u0001\"\\/" }) },
  { action: "ListGrids", schema: ListGridsRequestSchema, request: create(ListGridsRequestSchema, {}) },
  {
    action: "ListGridSummaries",
    schema: ListGridSummariesRequestSchema,
    request: create(ListGridSummariesRequestSchema, { status: GridStatus.RUNNING, startTime: 1764000000000n, pageSize: 10 }),
  },
  { action: "WatchFills", schema: WatchFillsRequestSchema, request: create(WatchFillsRequestSchema, { afterSeq: 9223372036854775807n }) },
  {
    action: "RegisterAccount",
    schema: RegisterAccountRequestSchema,
    request: create(RegisterAccountRequestSchema, { accountId: "0x01", orderlyKey: "ed25519:k", orderlySecret: "ed25519:s" }),
  },
];

function python(args: string[], input: unknown): unknown {
  const result = spawnSync(PYTHON, [CROSS_SIGN, ...args], { cwd: REPO, input: JSON.stringify(input), encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function asJson(c: Case): JsonValue {
  return toJson(c.schema, c.request, { useProtoFieldName: true });
}

describe("signing", () => {
  it("reproduces the README's test vector", async () => {
    const key: Hex = `0x${"a1".repeat(32)}`;
    const request = create(GetGridRequestSchema, { sessionId: SESSION });
    assert.equal(canonicalParamsJson(GetGridRequestSchema, request), `{"session_id":"${SESSION}"}`);
    assert.equal(canonicalParamsDigest(GetGridRequestSchema, request), "0c4e80230225dfbe6da16e4cc7b5d75a8cc85d1e22273deded6c36f8c203e265");
    const signer = walletSigner(key, { clockMs: () => 1764000000000, nonce: () => "0123456789abcdef" });
    const auth = await signer.authorize("GetGrid", GetGridRequestSchema, request);
    assert.equal(auth.userId, "0x5d5c99EdF529335160FF180fA141Dd4967fc00D2");
    assert.equal(auth.timestamp, 1764000000000n);
    assert.equal(
      auth.signature,
      "0x36585e0a07f77771e13ac3ff4f2bad3f77d8c90f11a114f8adf433ff44c8493f355c9bc61c543b6b0de7661255fd94cf4b7450c4aa54da842c86cf943a3b4f471b",
    );
  });

  it("leaves user_auth and default values out of the canonical parameters", () => {
    const request = create(StopGridRequestSchema, { sessionId: "s", userAuth: { userId: "0x1", nonce: "n" } });
    assert.equal(canonicalParamsJson(StopGridRequestSchema, request), '{"session_id":"s"}');
    assert.equal(canonicalParamsJson(ListGridsRequestSchema, create(ListGridsRequestSchema)), "{}");
    assert.equal(request.userAuth?.userId, "0x1", "the caller's request is not modified");
  });

  it("signs in TypeScript what the Python verifier recovers to the signer", async () => {
    const signer = walletSigner(generatePrivateKey());
    const items = [];
    for (const c of CASES) {
      const signed = { ...c.request, userAuth: await signer.authorize(c.action, c.schema, c.request) };
      items.push({ action: c.action, type: c.schema.typeName, request: toJson(c.schema, signed, { useProtoFieldName: true }) });
    }
    const verified = python(["verify"], items) as { digest: string; recovered: string; form_problem: string | null }[];
    CASES.forEach((c, i) => {
      const v = verified[i];
      assert.equal(v?.recovered, signer.userId, `${c.action}: recovered another address`);
      assert.equal(v?.form_problem, null, `${c.action}: ${v?.form_problem}`);
      assert.equal(v?.digest, canonicalParamsDigest(c.schema, c.request), `${c.action}: digests differ`);
    });
  });

  it("recovers to the Python signer what Python signs, from the same canonical parameters", async () => {
    const key = generatePrivateKey();
    const items = CASES.map((c) => ({ action: c.action, type: c.schema.typeName, request: asJson(c) }));
    const signed = python(["sign", key], items) as { canonical: string; digest: string; user_auth: Record<string, string> }[];
    for (const [i, c] of CASES.entries()) {
      const s = signed[i];
      assert.ok(s !== undefined);
      const request = fromJson(c.schema, asJson(c));
      assert.equal(canonicalParamsJson(c.schema, request), s.canonical, `${c.action}: canonical JSON differs`);
      assert.equal(canonicalParamsDigest(c.schema, request), s.digest);
      const auth = s.user_auth;
      const text = buildAuthMessage({
        domain: DEFAULT_DOMAIN,
        action: c.action,
        userId: String(auth["user_id"]),
        paramsDigest: canonicalParamsDigest(c.schema, request),
        timestampMs: BigInt(String(auth["timestamp"])),
        nonce: String(auth["nonce"]),
      });
      const recovered = await recoverSigner(text, String(auth["signature"]) as Hex);
      assert.equal(recovered, privateKeyToAccount(key).address, `${c.action}: recovered another address`);
      assert.equal(recovered, auth["user_id"]);
    }
  });
});
