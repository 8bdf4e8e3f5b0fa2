/**
 * Typed errors for failed orderly-grid calls, from the server's `google.rpc.Status` details: an
 * `ErrorInfo` whose `reason` is a stable domain reason (SESSION_NOT_FOUND, ...), a `BadRequest`
 * naming the bad fields and sometimes a `RetryInfo`. The gRPC transport brings them in the
 * `grpc-status-details-bin` trailer; the REST transport rebuilds the same details from the REST
 * error envelope, so callers see the same class on both. Mirrors clients/python/orderly_grid/errors.py.
 */
import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

export const ERROR_DOMAIN = "orderly-grid";

/** One bad request field: a dotted path of proto field names and the rule it broke. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** A failed call. `reason` is the server's ErrorInfo reason, or the gRPC code's name when the
 * status carries none (a proxy, a deadline, a lost connection). */
export class GridError extends Error {
  override name = "GridError";
  readonly code: Code;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** The server's RetryInfo delay, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: Code,
    reason: string,
    message: string,
    extra: { metadata?: Record<string, string>; fieldViolations?: FieldViolation[]; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    const named = (extra.fieldViolations ?? []).map((v) => `${v.field}: ${v.description}`).join("; ");
    super(`${reason}: ${message}${named ? ` (${named})` : ""}`, { cause: extra.cause });
    this.code = code;
    this.reason = reason;
    this.metadata = extra.metadata ?? {};
    this.fieldViolations = extra.fieldViolations ?? [];
    this.retryAfterMs = extra.retryAfterMs;
  }
}

export class InvalidArgument extends GridError { override name = "InvalidArgument"; }
export class InvalidMarketParams extends InvalidArgument { override name = "InvalidMarketParams"; }
export class UnknownSymbol extends InvalidArgument { override name = "UnknownSymbol"; }
export class SessionNotFound extends GridError { override name = "SessionNotFound"; }
export class DuplicateGridSession extends GridError { override name = "DuplicateGridSession"; }
export class AccountSymbolInUse extends GridError { override name = "AccountSymbolInUse"; }
export class SessionAlreadyStopped extends GridError { override name = "SessionAlreadyStopped"; }
export class AccountNotRegistered extends GridError { override name = "AccountNotRegistered"; }
export class AccountCredentialsRejected extends GridError { override name = "AccountCredentialsRejected"; }
export class OrderCreationFailed extends GridError { override name = "OrderCreationFailed"; }
export class FillsNotRetained extends GridError { override name = "FillsNotRetained"; }
/** Too many requests (or a fill subscriber fell behind); `retryAfterMs` says when to retry. */
export class RateLimited extends GridError { override name = "RateLimited"; }
/** The signature is missing, invalid, expired or its nonce was used before. */
export class Unauthenticated extends GridError { override name = "Unauthenticated"; }
export class PermissionDenied extends GridError { override name = "PermissionDenied"; }
/** The service (or its store) cannot answer now: connection lost, shutting down. Retryable. */
export class ServiceUnavailable extends GridError { override name = "ServiceUnavailable"; }
export class ExchangeUnavailable extends ServiceUnavailable { override name = "ExchangeUnavailable"; }
/** The call did not finish within its deadline; a write may still have taken effect. */
export class DeadlineExceeded extends GridError { override name = "DeadlineExceeded"; }
export class InternalError extends GridError { override name = "InternalError"; }

type ErrorClass = new (...args: ConstructorParameters<typeof GridError>) => GridError;

/** The class of each domain reason the server documents (server/api/errors.py). */
export const REASON_CLASSES: Readonly<Record<string, ErrorClass>> = {
  INVALID_ARGUMENT: InvalidArgument,
  INVALID_MARKET_PARAMS: InvalidMarketParams,
  UNKNOWN_SYMBOL: UnknownSymbol,
  INVALID_PAGE_TOKEN: InvalidArgument,
  SESSION_NOT_FOUND: SessionNotFound,
  DUPLICATE_GRID_SESSION: DuplicateGridSession,
  ACCOUNT_SYMBOL_IN_USE: AccountSymbolInUse,
  SESSION_ALREADY_STOPPED: SessionAlreadyStopped,
  ACCOUNT_NOT_REGISTERED: AccountNotRegistered,
  ACCOUNT_CREDENTIALS_REJECTED: AccountCredentialsRejected,
  ORDER_CREATION_FAILED: OrderCreationFailed,
  FILLS_NOT_RETAINED: FillsNotRetained,
  RATE_LIMIT_EXCEEDED: RateLimited,
  UNAUTHENTICATED: Unauthenticated,
  INVALID_SIGNATURE: Unauthenticated,
  SIGNATURE_EXPIRED: Unauthenticated,
  NONCE_REPLAYED: Unauthenticated,
  SESSION_KEY_INVALID: Unauthenticated,
  SESSION_KEY_EXPIRED: Unauthenticated,
  SESSION_KEY_REVOKED: Unauthenticated,
  PERMISSION_DENIED: PermissionDenied,
  EXCHANGE_UNAVAILABLE: ExchangeUnavailable,
  STORE_UNAVAILABLE: ServiceUnavailable,
  SHUTTING_DOWN: ServiceUnavailable,
  INTERNAL: InternalError,
};

/** Fallback by code, for reasons this SDK does not know (a newer server) and bare statuses. */
const CODE_CLASSES: ReadonlyMap<Code, ErrorClass> = new Map<Code, ErrorClass>([
  [Code.InvalidArgument, InvalidArgument],
  [Code.OutOfRange, InvalidArgument],
  [Code.ResourceExhausted, RateLimited],
  [Code.Unauthenticated, Unauthenticated],
  [Code.PermissionDenied, PermissionDenied],
  [Code.Unavailable, ServiceUnavailable],
  [Code.DeadlineExceeded, DeadlineExceeded],
  [Code.Internal, InternalError],
]);

/** The gRPC code name (UPPER_SNAKE_CASE) of a connect Code, e.g. Code.NotFound -> "NOT_FOUND". */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
}

/** The typed error behind any failure of a call (a ConnectError, an abort, a network error). */
export function toGridError(reason: unknown): GridError {
  if (reason instanceof GridError) {
    return reason;
  }
  const error = ConnectError.from(reason);
  let domainReason = codeName(error.code);
  let metadata: Record<string, string> = {};
  for (const info of error.findDetails(ErrorInfoSchema)) {
    if (info.domain === ERROR_DOMAIN) {
      domainReason = info.reason || domainReason;
      metadata = { ...info.metadata };
    }
  }
  const fieldViolations = error
    .findDetails(BadRequestSchema)
    .flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
  const retry = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  const retryAfterMs = retry === undefined ? undefined : Number(retry.seconds) * 1000 + Math.floor(retry.nanos / 1e6);
  const cls = REASON_CLASSES[domainReason] ?? CODE_CLASSES.get(error.code) ?? GridError;
  return new cls(error.code, domainReason, error.rawMessage, { metadata, fieldViolations, retryAfterMs, cause: reason });
}
