import type { Flyctl } from "../fly/index.js";
import type { Store } from "../store/store.js";

export interface ReaperDeps {
  store: Store;
  flyctl: Flyctl;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  clock?: () => number;
}

export interface ReapReport {
  /** Fly apps the store created whose preview should be gone: destroyed (or, dry, would be). */
  orphans: Array<{ app: string; repo: string; number: number; reason: string }>;
  /** Previews whose destroy failed earlier: asked for again. */
  retried: Array<{ app: string; repo: string; number: number }>;
  /** Previews idle past their TTL: destroy asked for. */
  expired: Array<{ app: string; repo: string; number: number; idleMs: number }>;
}

/** One pass of leak-proof cleanup. With `dryRun` it reports and changes nothing. */
export async function reap(deps: ReaperDeps, options: { dryRun: boolean }): Promise<ReapReport> {
  void deps;
  void options;
  throw new Error("not implemented yet");
}
