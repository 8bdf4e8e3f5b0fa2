/**
 * `FillStream`: WatchFills as an async iterator of fills that survives disconnects and restarts.
 *
 * The server numbers each user's fills with a strictly increasing `seq` and replays, on subscribe,
 * every stored fill after `after_seq`. So on a lost connection, a server shutdown, a cut-off for
 * falling behind (RESOURCE_EXHAUSTED) or an unexpected end of the stream, the stream subscribes
 * again with `after_seq` = the last seq it yielded (signed afresh: nonces are single-use) and drops
 * anything at or below it. The caller sees every fill exactly once. Mirrors orderly_grid/fills.py.
 */
import { Code } from "@connectrpc/connect";

import { GridError, toGridError } from "./errors.js";
import type { Fill } from "./gen/orderly_grid/v1/grid_pb.js";
import type { WatchFillsResponse } from "./gen/orderly_grid/v1/grid_service_pb.js";
import { exponentialBackoff, sleep, type Backoff } from "./retry.js";

/**
 * Failures after which the stream subscribes again. A server going away mid-stream reaches an
 * HTTP/2 client as UNAVAILABLE or, when the connection is cut before the trailers, as INTERNAL /
 * UNKNOWN ("stream closed"); a bad request or signature is final (INVALID_ARGUMENT, UNAUTHENTICATED...).
 */
export const RESUMABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.ResourceExhausted,
  Code.Internal,
  Code.Unknown,
  Code.Aborted,
]);

/** Opens one WatchFills call resuming after `afterSeq` (signed afresh by the client). */
export type OpenWatch = (afterSeq: bigint, signal: AbortSignal) => AsyncIterable<WatchFillsResponse>;

export interface FillStreamOptions {
  afterSeq?: bigint;
  backoff?: Backoff;
  /** Consecutive failures without a successful resubscription before the last error is raised
   * (undefined: keep trying). */
  maxReconnects?: number;
  onReconnect?: (error: GridError | undefined, reconnects: number) => void;
}

/**
 * The fills of one session or of all the signer's sessions, in seq order, each exactly once. Iterate
 * it once. `lastSeq` is the seq of the last fill yielded (resume from it later); `live` is true while
 * connected and past the replay of stored fills; `reconnects` counts resubscriptions. `close()` (or
 * leaving the for-await loop) ends the call.
 */
export class FillStream implements AsyncIterable<Fill> {
  lastSeq: bigint;
  reconnects = 0;
  live = false;
  private readonly closed = new AbortController();
  private readonly backoff: Backoff;

  constructor(
    private readonly openWatch: OpenWatch,
    private readonly options: FillStreamOptions = {},
  ) {
    this.lastSeq = options.afterSeq ?? 0n;
    this.backoff = options.backoff ?? exponentialBackoff();
  }

  close(): void {
    this.closed.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Fill, void, undefined> {
    let failures = 0;
    while (!this.closed.signal.aborted) {
      let error: GridError | undefined;
      const call = new AbortController();
      const stop = (): void => call.abort();
      this.closed.signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const response of this.openWatch(this.lastSeq, call.signal)) {
          const event = response.event;
          if (event.case === "replayComplete") {
            failures = 0;
            this.live = true;
          } else if (event.case === "fill" && event.value.seq > this.lastSeq) {
            failures = 0;
            this.lastSeq = event.value.seq;
            yield event.value;
          }
        }
      } catch (reason) {
        if (this.closed.signal.aborted) {
          return;
        }
        error = toGridError(reason);
        if (!RESUMABLE_CODES.has(error.code)) {
          throw error;
        }
      } finally {
        this.live = false;
        this.closed.signal.removeEventListener("abort", stop);
        call.abort(); // ends the HTTP/2 stream when the loop was left early
      }
      // Reached on a resumable error or when the server ended the stream (it never should).
      failures += 1;
      if (this.options.maxReconnects !== undefined && failures > this.options.maxReconnects) {
        throw error ?? new GridError(Code.Unavailable, "UNAVAILABLE", "the fill stream keeps ending");
      }
      this.reconnects += 1;
      this.options.onReconnect?.(error, this.reconnects);
      await sleep(this.backoff.delayMs(failures - 1, error?.retryAfterMs), this.closed.signal);
    }
  }
}
