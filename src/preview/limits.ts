/** A deploy stopped by one of its time limits; the message names the limit, for the check run. */
export class LimitExceeded extends Error {}

/**
 * `parent` with a time limit added: the signal aborts with the parent's reason, or with a
 * LimitExceeded saying `message` once `ms` have passed. `clear` when the limited part is over.
 */
export function deadline(parent: AbortSignal, ms: number, message: string): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new LimitExceeded(message)), ms);
  // Nothing is left to limit once the process has nothing else to do.
  timer.unref();
  return { signal: AbortSignal.any([parent, controller.signal]), clear: () => clearTimeout(timer) };
}
