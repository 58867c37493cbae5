import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * How often the background thread checkpoints. Under a burst of webhooks the WAL
 * grows by a few MB a second; checkpointing often keeps each pass small.
 */
const INTERVAL_MS = 500;

/**
 * The main connection's own checkpoint threshold, in pages (about 40 MB): a safety net
 * that only matters if the background thread stops keeping up.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

// Plain JavaScript run with `eval`, so it needs no loader in development, tests or the
// built server alike. It opens its own connection to the same file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the thread after its current pass; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Checkpoints the WAL of `file` from a worker thread. SQLite's automatic checkpoint
 * runs inside whichever commit crosses the threshold, copying pages back into the
 * database file and syncing it, on the thread that committed: under a burst of
 * webhooks that was every few hundred commits, a stall of several milliseconds for
 * every webhook in flight (docs/benchmarks.md). A PASSIVE checkpoint never waits for
 * writers or readers, so it runs beside the server's writes.
 */
export function startCheckpointer(file: string, onError: (message: string) => void, intervalMs = INTERVAL_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } });
  // Never what keeps a process (the CLI, a test) alive.
  worker.unref();
  worker.on("message", (message: { error?: string }) => {
    if (message.error) onError(message.error);
  });
  worker.on("error", (error) => onError(error.message));
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    async stop() {
      // Held while it stops: an unreferenced worker's exit does not keep the event loop
      // alive, and a CLI awaiting it at top level would end with "unsettled" (exit 13).
      worker.ref();
      worker.postMessage("stop");
      await exited;
    },
  };
}
