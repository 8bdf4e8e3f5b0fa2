/**
 * The REST transport's mapping, without a server: routes and bodies from the google.api.http rules,
 * the shim's short enum names expanded back, and error envelopes as the typed errors gRPC gives.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";

import { GridSchema } from "../src/gen/orderly_grid/v1/grid_pb.js";
import {
  GetGridRequestSchema,
  GridService,
  ListGridSummariesRequestSchema,
  PreviewGridRequestSchema,
  WatchFillsRequestSchema,
} from "../src/gen/orderly_grid/v1/grid_service_pb.js";
import { Direction, GridStatus, RateLimited, SessionNotFound, errorOfEnvelope, expandEnumNames, httpRequestOf, toGridError } from "../src/index.js";

const auth = { userId: "0xab", signature: "0x01", timestamp: 1764000000000n, nonce: "n1234567" };

describe("REST mapping", () => {
  it("puts path variables in the path and the rest, dotted, in the query string", () => {
    const request = create(GetGridRequestSchema, { sessionId: "0xab_BTC USDT", userAuth: auth });
    const http = httpRequestOf(GridService.method.getGrid, request);
    assert.equal(http.verb, "GET");
    assert.equal(http.path, "/api/grid/status/0xab_BTC%20USDT");
    assert.deepEqual(http.query, [
      ["user_auth.user_id", "0xab"],
      ["user_auth.signature", "0x01"],
      ["user_auth.timestamp", "1764000000000"],
      ["user_auth.nonce", "n1234567"],
    ]);
    assert.equal(http.body, undefined);
  });

  it("chooses the binding whose variables are set (WatchFills with and without a session)", () => {
    const one = httpRequestOf(GridService.method.watchFills, create(WatchFillsRequestSchema, { sessionId: "s", afterSeq: 7n }));
    assert.equal(one.path, "/api/grid/fills/s");
    assert.deepEqual(one.query, [["after_seq", "7"]]);
    const all = httpRequestOf(GridService.method.watchFills, create(WatchFillsRequestSchema, {}));
    assert.equal(all.path, "/api/grid/fills");
  });

  it("sends the body field as the body (PreviewGrid: config) and enums by full name in queries", () => {
    const preview = httpRequestOf(GridService.method.previewGrid, create(PreviewGridRequestSchema, { config: { ticker: "BTCUSDT", direction: Direction.LONG } }));
    assert.equal(preview.verb, "POST");
    assert.equal(preview.body, '{"ticker":"BTCUSDT","direction":"DIRECTION_LONG"}');
    assert.deepEqual(preview.query, []);
    const summary = httpRequestOf(GridService.method.listGridSummaries, create(ListGridSummariesRequestSchema, { status: GridStatus.RUNNING, startTime: 5n }));
    assert.deepEqual(summary.query, [["status", "GRID_STATUS_RUNNING"], ["start_time", "5"]]);
  });

  it("expands the shim's short enum names in nested and repeated fields", () => {
    const json = expandEnumNames(GridSchema, {
      status: "RUNNING",
      config: { direction: "BOTH", grid_type: "ARITHMETIC" },
      open_orders: [{ side: "SELL", status: "NEW" }],
      stop_reason: "STOP_REASON_MANUAL",
    });
    assert.deepEqual(json, {
      status: "GRID_STATUS_RUNNING",
      config: { direction: "DIRECTION_BOTH", grid_type: "GRID_TYPE_ARITHMETIC" },
      open_orders: [{ side: "SIDE_SELL", status: "ORDER_STATUS_NEW" }],
      stop_reason: "STOP_REASON_MANUAL",
    });
  });

  it("turns error envelopes into the typed errors, with field violations and retry delay", () => {
    const notFound = toGridError(errorOfEnvelope({ success: false, error_code: "SESSION_NOT_FOUND", code: "NOT_FOUND", message: "no such session", details: { session_id: "s" } }, 404));
    assert.ok(notFound instanceof SessionNotFound);
    assert.equal(notFound.code, Code.NotFound);
    assert.deepEqual(notFound.metadata, { session_id: "s" });
    const limited = toGridError(
      errorOfEnvelope(
        {
          success: false,
          error_code: "RATE_LIMIT_EXCEEDED",
          code: "RESOURCE_EXHAUSTED",
          message: "slow down",
          details: { retry_after_ms: 1500, field_violations: [{ field: "user_auth", description: "too many" }] },
        },
        429,
      ),
    );
    assert.ok(limited instanceof RateLimited);
    assert.equal(limited.retryAfterMs, 1500);
    assert.deepEqual(limited.fieldViolations, [{ field: "user_auth", description: "too many" }]);
    const bare = toGridError(errorOfEnvelope("not an envelope", 503));
    assert.equal(bare.code, Code.Unavailable);
    assert.equal(bare.reason, "UNAVAILABLE");
  });
});
