/**
 * When the SDK retries, and how long it waits. Only idempotent reads (GetGrid, ListGrids,
 * ListGridSummaries, PreviewGrid) are retried, and only on UNAVAILABLE and DEADLINE_EXCEEDED: the
 * server may not have seen the call, and asking again changes nothing. StartGrid, StopGrid and
 * RegisterAccount never are: a timeout does not prove the server did nothing, and a second attempt
 * could act twice. After such a failure, read the state (getGrid) and decide.
 */
import { Code } from "@connectrpc/connect";

export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.DeadlineExceeded]);

/** Exponential backoff with full jitter; a server's RetryInfo delay, when longer, wins. */
export interface Backoff {
  delayMs(attempt: number, retryAfterMs?: number): number;
}

export function exponentialBackoff(initialMs = 100, maxMs = 3000, multiplier = 2, random: () => number = Math.random): Backoff {
  return {
    delayMs(attempt, retryAfterMs) {
      const ceiling = Math.min(maxMs, initialMs * multiplier ** Math.max(0, attempt));
      const delay = ceiling * (0.5 + 0.5 * random());
      return retryAfterMs === undefined ? delay : Math.max(delay, retryAfterMs);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
