import os from "node:os";

/**
 * Runs one part of `npm run bench` to its end and exits the process. An interrupt still
 * stops the servers it started (they would otherwise outlive the bench), drops its
 * PostgreSQL database and removes its temp dirs; so does a part that misses its deadline,
 * whose abandoned run may still hold sockets and timers open.
 */
export async function runPart<T>(part: {
  name: string;
  deadlineMs: number;
  main: () => Promise<T>;
  report: (result: T, started: Date, loadAtStart: number) => void;
  /** Marks the part as stopping and cleans up what it started. */
  stop: () => Promise<void>;
}): Promise<never> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void part.stop().finally(() => process.exit(130));
    });
  }
  const started = new Date();
  const loadAtStart = os.loadavg()[0];
  let deadline: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      part.main(),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => reject(new Error(`the ${part.name} did not finish within ${part.deadlineMs / 60_000} minutes`)), part.deadlineMs);
      }),
    ]);
    part.report(result, started, loadAtStart);
  } catch (error) {
    console.error(`${part.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    await part.stop();
    process.exit(1);
  } finally {
    clearTimeout(deadline);
  }
  process.exit(0);
}
