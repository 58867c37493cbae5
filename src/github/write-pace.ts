import type { Logger } from "probot";
import type { Octokit } from "./octokit.js";

/** Where the installations' write slots live: the store, shared by every process. */
export interface WritePace {
  claimWriteSlot(installationId: number, spacingMs: number, maxWaitMs: number): Promise<number | undefined>;
  /** How long until the installation's next slot is free (0: now), claiming nothing. */
  writeSlotWait(installationId: number): Promise<number>;
  pauseWrites(installationId: number, ms: number): Promise<void>;
}

export interface PaceOptions {
  pace: WritePace;
  /** PREVIEW_WRITE_SPACING; 0 leaves the Octokit as it is. */
  spacingMs: number;
  log: Logger;
}

// GitHub's "Best practices for using the REST API": content-changing requests (POST,
// PATCH, PUT, DELETE) at least a second apart. The token request is no content and must
// not queue behind writes: every write of a new Octokit needs it first.
const TOKEN_REQUEST = /\/app\/installations\/\d+\/access_tokens$/;

export function isContentWrite(method: string | undefined, url: string): boolean {
  const verb = (method ?? "GET").toUpperCase();
  if (verb === "GET" || verb === "HEAD") return false;
  return !TOKEN_REQUEST.test(new URL(url).pathname);
}

// GitHub's "Rate limits for the REST API", "Exceeding the rate limit": wait `retry-after`
// seconds when sent; else, with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`;
// else at least a minute.
const FALLBACK_PAUSE_MS = 60_000;

/** How long GitHub asks to pause when `response` is a rate limit; undefined when it is not one. */
export async function pauseOf(response: Response): Promise<number | undefined> {
  if (response.status !== 403 && response.status !== 429) return undefined;
  const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  if (response.headers.get("x-ratelimit-remaining") === "0") {
    const reset = Number(response.headers.get("x-ratelimit-reset"));
    return Number.isFinite(reset) ? Math.max(0, reset * 1000 - Date.now()) + 1000 : FALLBACK_PAUSE_MS;
  }
  if (response.status === 429) return FALLBACK_PAUSE_MS;
  // Any other 403 is a permission, unless GitHub's message names the secondary limit.
  const text = await response.clone().text().catch(() => "");
  return /secondary rate limit/i.test(text) ? FALLBACK_PAUSE_MS : undefined;
}

// Probot's throttling fails a request still running after two minutes (its Bottleneck
// `timeout`) without stopping it: a write sent after that would arrive behind a caller
// that already gave up and may write it again. With the next slot further out than
// this (a long rate-limit pause), a write is not sent and claims nothing; the work is
// retried later like any passing GitHub failure.
export const MAX_WAIT_MS = 60_000;

/** Waits `ms`, or rejects as soon as `signal` aborts: a process stopping does not wait out a slot. */
function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    // The signal outlives the wait (the write queue's, until it stops): the listener goes with the timer.
    const aborted = () => (clearTimeout(timer), reject(signal!.reason));
    const timer = setTimeout(() => (signal?.removeEventListener("abort", aborted), resolve()), ms);
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

/**
 * Waits until the installation's next write slot is free, claiming nothing: a caller
 * that chooses what to write once this resolves fills the slot with what is most wanted
 * then, not with what was most wanted when it began to wait (the write queue: an outcome
 * recorded during the wait goes in this slot, not the one after). Waits again when
 * another process took the slot meanwhile. A slot more than MAX_WAIT_MS away (a long
 * pause) is not waited for: the write's own claim refuses it (paceWrites). Rejects as
 * soon as `signal` aborts.
 */
export async function writeSlotFree(pace: Pick<WritePace, "writeSlotWait">, installationId: number, signal?: AbortSignal): Promise<void> {
  for (let wait = await pace.writeSlotWait(installationId); wait > 0 && wait <= MAX_WAIT_MS; wait = await pace.writeSlotWait(installationId)) {
    await sleep(wait, signal);
  }
}

/**
 * Spaces this installation's GitHub writes across every process that shares the store,
 * and pauses them all when GitHub answers with a rate limit. Probot's throttling stays
 * on: it orders writes within a process (its own lanes, one for writes and a slower one
 * for comments); the slot is claimed after those lanes, just before the request leaves,
 * so nothing they hold back can land next to another write.
 */
export function paceWrites(octokit: Octokit, installationId: number, { pace, spacingMs, log }: PaceOptions): Octokit {
  if (spacingMs <= 0) return octokit;
  // The hook Octokit runs first; the fetch it hands down runs last, after the
  // throttling and retry plugins and the installation's authentication.
  octokit.hook.wrap("request", (request, options) => {
    const send: typeof fetch = options.request?.fetch ?? globalThis.fetch;
    const paced = async (url: string, init?: RequestInit): Promise<Response> => {
      if (isContentWrite(init?.method, url)) {
        const wait = await pace.claimWriteSlot(installationId, spacingMs, MAX_WAIT_MS);
        if (wait === undefined) {
          throw new Error(`GitHub writes of installation ${installationId} are paused or queued more than ${MAX_WAIT_MS / 1000} s ahead: this one is tried again later`);
        }
        if (wait > 0) await sleep(wait, init?.signal);
      }
      const response = await send(url, init);
      const pause = await pauseOf(response);
      if (pause !== undefined) {
        log.warn({ installationId, pauseMs: pause, status: response.status }, "GitHub asked to slow down: this installation's writes pause in every process");
        await pace.pauseWrites(installationId, pause);
      }
      return response;
    };
    // In place: before-after-hook hands every layer the options object it was first
    // called with, not the one passed down. A new `request` object, because the one
    // there may be the Octokit's defaults, shared by all its requests.
    options.request = { ...options.request, fetch: paced };
    return request(options);
  });
  return octokit;
}
