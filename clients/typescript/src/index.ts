/**
 * @orderly-grid/client: the typed TypeScript SDK of orderly-grid. This entry is browser-safe (REST
 * transport over fetch); "@orderly-grid/client/node" adds the gRPC (HTTP/2) transport.
 *
 * - `GridClient`: signed, typed GridService calls with deadlines, read retries and typed errors.
 * - `walletSigner` / `RequestSigner`: who authorizes the calls (EIP-191 wallet signatures).
 * - `createRestTransport`: the REST shim's routes (google.api.http) over fetch.
 * - `FillStream`: WatchFills as a resuming async iterator.
 * - Errors: `GridError` and a subclass per domain reason (`SessionNotFound`, ...).
 * - Generated messages and services: "@orderly-grid/client/gen/orderly_grid/v1/grid_pb" etc.
 */
export { GridClient, MissingSignerError, DEFAULT_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS } from "./client.js";
export type { CallOpts, GridClientOptions, ListOptions, SummaryOptions, WatchOptions } from "./client.js";
export * from "./errors.js";
export { FillStream, RESUMABLE_CODES } from "./fills.js";
export type { FillStreamOptions, OpenWatch } from "./fills.js";
export { decimalText, enumValue, gridStatus, toGridConfig, toStartRequest } from "./params.js";
export type { DecimalLike, DirectionLike, GridParams, GridStatusLike, GridTypeLike } from "./params.js";
export { createRestTransport, errorOfEnvelope, expandEnumNames, httpRequestOf } from "./rest.js";
export type { RestTransportOptions } from "./rest.js";
export { RETRYABLE_CODES, exponentialBackoff } from "./retry.js";
export type { Backoff } from "./retry.js";
export {
  DEFAULT_DOMAIN,
  buildAuthMessage,
  canonicalParamsDigest,
  canonicalParamsJson,
  newNonce,
  recoverSigner,
  walletSigner,
} from "./signing.js";
export type { AuthFields, RequestSigner, SignedAction, WalletSignerOptions } from "./signing.js";
export { Direction, GridStatus, GridType, OrderStatus, Side, StopReason } from "./gen/orderly_grid/v1/grid_pb.js";
export type { Fill, Grid, GridConfig, GridOrder, GridSummary, Pnl, Position, RoundTrip } from "./gen/orderly_grid/v1/grid_pb.js";
export { GridService } from "./gen/orderly_grid/v1/grid_service_pb.js";
export { HealthService } from "./gen/orderly_grid/v1/health_service_pb.js";
