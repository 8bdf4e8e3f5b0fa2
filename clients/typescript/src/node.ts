/**
 * Node entry point: the gRPC transport (HTTP/2, `@connectrpc/connect-node`) against the service as
 * it is. Kept apart from the main entry so browser bundles never pull in node:http2.
 */
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";

import { GridClient, type GridClientOptions } from "./client.js";

export interface GrpcTransportOptions {
  /** Ping an idle connection so a dead peer is noticed (ms); connect-node's default otherwise. */
  pingIntervalMs?: number;
}

/** gRPC over HTTP/2 to `target`: "localhost:50051" (plaintext) or a full "https://host:port" URL. */
export function createGridTransport(target: string, options: GrpcTransportOptions = {}): Transport {
  const baseUrl = /^https?:\/\//.test(target) ? target : `http://${target}`;
  return createGrpcTransport({ baseUrl, ...options });
}

/** A `GridClient` over gRPC to `target` (default localhost:50051). */
export function connectGrid(target = "localhost:50051", options: Omit<GridClientOptions, "transport"> = {}): GridClient {
  return new GridClient({ ...options, transport: createGridTransport(target) });
}

export * from "./index.js";
