// `npm run bench`: its parts one after another, each in a process of its own so
// neither's servers, timers or deadline touch the other's. BENCH_PART=ack,
// BENCH_PART=lifecycle or BENCH_PART=dockerfile runs only that one.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const PARTS = { ack: "./webhook-ack.ts", lifecycle: "./lifecycle.ts", dockerfile: "./dockerfile.ts" } as const;
type Part = keyof typeof PARTS;

const chosen = process.env.BENCH_PART;
if (chosen !== undefined && !(chosen in PARTS)) {
  console.error(`BENCH_PART must be one of ${Object.keys(PARTS).join(", ")} (or unset for all), not "${chosen}"`);
  process.exit(2);
}
const parts = chosen ? [chosen as Part] : (Object.keys(PARTS) as Part[]);

let running: ChildProcess | undefined;
// Ctrl-C reaches the running part as well (same process group): it cleans up and
// exits, and this process waits for that instead of dying first. A SIGTERM sent to
// this process alone is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => running?.kill("SIGTERM"));

let worst = 0;
for (const part of parts) {
  console.log(`\n=== bench: ${part} ===\n`);
  const child = (running = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL(PARTS[part], import.meta.url))], { stdio: "inherit" }));
  const code = await new Promise<number>((resolve) => child.once("exit", (c, signal) => resolve(c ?? (signal ? 130 : 1))));
  worst = Math.max(worst, code);
  if (code === 130) break;
}
process.exit(worst);
