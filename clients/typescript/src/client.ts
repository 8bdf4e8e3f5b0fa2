/**
 * `GridClient`: the typed client of the orderly-grid GridService, over any connect Transport: the
 * gRPC one from "@orderly-grid/client/node" (HTTP/2) or `createRestTransport` (fetch, browsers).
 *
 * Every call that acts for a user is authorized by the `RequestSigner` (a fresh signature, timestamp
 * and nonce per attempt), every unary call has a deadline, idempotent reads are retried on
 * UNAVAILABLE / DEADLINE_EXCEEDED (writes never are: see retry.ts), and failures throw the
 * `GridError` subclass of the server's ErrorInfo reason. Results are the generated message types.
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";

import { toGridError } from "./errors.js";
import { FillStream, type FillStreamOptions } from "./fills.js";
import type { Grid } from "./gen/orderly_grid/v1/grid_pb.js";
import {
  GetGridRequestSchema,
  GridService,
  ListGridSummariesRequestSchema,
  ListGridsRequestSchema,
  PreviewGridRequestSchema,
  RegisterAccountRequestSchema,
  StartGridRequestSchema,
  StopGridRequestSchema,
  WatchFillsRequestSchema,
  type Account,
  type ListGridSummariesResponse,
  type ListGridsResponse,
  type PreviewGridResponse,
} from "./gen/orderly_grid/v1/grid_service_pb.js";
import { gridStatus, toGridConfig, toStartRequest, type GridParams, type GridStatusLike } from "./params.js";
import { RETRYABLE_CODES, exponentialBackoff, sleep, type Backoff } from "./retry.js";
import type { RequestSigner, SignedAction } from "./signing.js";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** StartGrid and StopGrid place or cancel every order of a grid (up to 200 lines) before answering. */
export const DEFAULT_WRITE_TIMEOUT_MS = 60_000;

export interface GridClientOptions {
  transport: Transport;
  /** Authorizes user calls; without one only `previewGrid` works. */
  signer?: RequestSigner;
  /** Deadline of each read attempt. */
  timeoutMs?: number;
  /** Deadline of StartGrid, StopGrid and RegisterAccount. */
  writeTimeoutMs?: number;
  /** How many times an idempotent read is retried. */
  retries?: number;
  backoff?: Backoff;
}

/** Per-call options: a deadline other than the client's, and a signal to cancel. */
export interface CallOpts {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListOptions extends CallOpts {
  status?: GridStatusLike;
  pageSize?: number;
  pageToken?: string;
  /** Whose sessions; empty means the signer (anyone else is PERMISSION_DENIED). */
  userId?: string;
}

export interface SummaryOptions extends ListOptions {
  /** Sessions created at or after this time (ms); 0 means no lower bound. */
  startTimeMs?: number | bigint;
  /** Sessions created before this time (ms); 0 means no upper bound. */
  endTimeMs?: number | bigint;
}

export interface WatchOptions extends Omit<FillStreamOptions, "backoff"> {}

export class MissingSignerError extends Error {
  override name = "MissingSignerError";
}

type Unary<I extends DescMessage, O> = (request: MessageInitShape<I>, options: CallOptions) => Promise<O>;

export class GridClient {
  readonly grid: Client<typeof GridService>;
  private readonly signer: RequestSigner | undefined;
  private readonly timeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly retries: number;
  private readonly backoff: Backoff;

  constructor(options: GridClientOptions) {
    this.grid = createClient(GridService, options.transport);
    this.signer = options.signer;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.retries = options.retries ?? 3;
    this.backoff = options.backoff ?? exponentialBackoff();
    if (this.timeoutMs <= 0 || this.writeTimeoutMs <= 0 || this.retries < 0) {
      throw new RangeError("timeoutMs and writeTimeoutMs must be > 0, retries >= 0");
    }
  }

  /** The signer's address (checksummed); the server keys sessions by its lower-case form. */
  get userId(): string {
    return this.requireSigner().userId;
  }

  /** The id the server gives this user's session on `ticker`: `<user_id>_<ticker>`. */
  sessionId(ticker: string): string {
    return `${this.userId.toLowerCase()}_${ticker}`;
  }

  /** Lines, planned orders, margin and profit per grid, without starting anything. */
  async previewGrid(params: GridParams, opts: CallOpts = {}): Promise<PreviewGridResponse> {
    const request = create(PreviewGridRequestSchema, { config: toGridConfig(params) });
    return this.unary(this.grid.previewGrid, PreviewGridRequestSchema, request, undefined, true, opts);
  }

  /** Start a session; answers once its initial orders are placed. Never retried. */
  async startGrid(params: GridParams, opts: CallOpts = {}): Promise<Grid> {
    const response = await this.unary(this.grid.startGrid, StartGridRequestSchema, toStartRequest(params), "StartGrid", false, opts);
    return required(response.grid);
  }

  /** Stop a session (cancel its orders; close its position if asked). Never retried. */
  async stopGrid(sessionId: string, opts: CallOpts & { closePosition?: boolean } = {}): Promise<Grid> {
    const request = create(StopGridRequestSchema, { sessionId, closePosition: opts.closePosition });
    const response = await this.unary(this.grid.stopGrid, StopGridRequestSchema, request, "StopGrid", false, opts);
    return required(response.grid);
  }

  async getGrid(sessionId: string, opts: CallOpts = {}): Promise<Grid> {
    const request = create(GetGridRequestSchema, { sessionId });
    const response = await this.unary(this.grid.getGrid, GetGridRequestSchema, request, "GetGrid", true, opts);
    return required(response.grid);
  }

  /** One page of the signer's sessions, newest first; `nextPageToken` is empty on the last. */
  async listGrids(opts: ListOptions = {}): Promise<ListGridsResponse> {
    const request = create(ListGridsRequestSchema, {
      userId: opts.userId ?? "",
      status: gridStatus(opts.status),
      pageSize: opts.pageSize ?? 0,
      pageToken: opts.pageToken ?? "",
    });
    return this.unary(this.grid.listGrids, ListGridsRequestSchema, request, "ListGrids", true, opts);
  }

  /** Every matching session over all pages. */
  async *iterGrids(opts: Omit<ListOptions, "pageToken"> = {}): AsyncGenerator<Grid> {
    let pageToken = "";
    do {
      const page = await this.listGrids({ ...opts, pageToken });
      yield* page.grids;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }

  /** One page of summaries of sessions created in [startTimeMs, endTimeMs), with totals over all. */
  async listSummaries(opts: SummaryOptions = {}): Promise<ListGridSummariesResponse> {
    const request = create(ListGridSummariesRequestSchema, {
      userId: opts.userId ?? "",
      status: gridStatus(opts.status),
      startTime: BigInt(opts.startTimeMs ?? 0),
      endTime: BigInt(opts.endTimeMs ?? 0),
      pageSize: opts.pageSize ?? 0,
      pageToken: opts.pageToken ?? "",
    });
    return this.unary(this.grid.listGridSummaries, ListGridSummariesRequestSchema, request, "ListGridSummaries", true, opts);
  }

  /**
   * Fills of one session (or of all the signer's sessions when empty) with seq > afterSeq: first the
   * stored ones, then live ones, resuming by itself after disconnects and server restarts.
   */
  watchFills(sessionId = "", opts: WatchOptions = {}): FillStream {
    const signer = this.requireSigner();
    const open = async function* (this: GridClient, afterSeq: bigint, signal: AbortSignal) {
      const request = create(WatchFillsRequestSchema, { sessionId, afterSeq });
      request.userAuth = await signer.authorize("WatchFills", WatchFillsRequestSchema, request);
      yield* this.grid.watchFills(request, { signal });
    };
    return new FillStream(open.bind(this), { ...opts, backoff: this.backoff });
  }

  /** Store the signer's Orderly account credentials with the service. Never retried. */
  async registerAccount(accountId: string, orderlyKey: string, orderlySecret: string, opts: CallOpts = {}): Promise<Account> {
    const request = create(RegisterAccountRequestSchema, { accountId, orderlyKey, orderlySecret });
    const response = await this.unary(this.grid.registerAccount, RegisterAccountRequestSchema, request, "RegisterAccount", false, opts);
    return required(response.account);
  }

  private requireSigner(): RequestSigner {
    if (this.signer === undefined) {
      throw new MissingSignerError("this call acts for a user: give the client a signer (walletSigner(key))");
    }
    return this.signer;
  }

  private async unary<I extends DescMessage, O>(
    method: Unary<I, O>,
    schema: I,
    request: MessageShape<I> & { userAuth?: unknown },
    action: SignedAction | undefined,
    idempotent: boolean,
    opts: CallOpts,
  ): Promise<O> {
    const signer = action === undefined ? undefined : this.requireSigner();
    const attempts = 1 + (idempotent ? this.retries : 0);
    const timeoutMs = opts.timeoutMs ?? (idempotent ? this.timeoutMs : this.writeTimeoutMs);
    for (let attempt = 0; ; attempt += 1) {
      if (signer !== undefined && action !== undefined) {
        // A fresh signature, timestamp and nonce for every attempt: each nonce is good once.
        request.userAuth = await signer.authorize(action, schema, request);
      }
      try {
        return await method.call(this.grid, request as MessageInitShape<I>, { timeoutMs, signal: opts.signal });
      } catch (reason) {
        const error = toGridError(reason);
        if (attempt + 1 >= attempts || !RETRYABLE_CODES.has(error.code) || opts.signal?.aborted) {
          throw error;
        }
        await sleep(this.backoff.delayMs(attempt, error.retryAfterMs), opts.signal);
      }
    }
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new TypeError("the server answered without the expected message");
  }
  return value;
}
