// Runs the real entry point (`src/main.ts`, what `npm start` runs after building) as
// a child process, from an empty working directory so no developer's .env leaks in.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `cwd`: where it runs (Probot's setup page reads app.yml there); a new empty directory by default. */
export function startServerProcess(env: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), "fly-preview-cwd-"))): ServerProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(APP_ID|PRIVATE_KEY|WEBHOOK_SECRET|GHE_|FLY_|DATABASE_URL|PREVIEW_)/.test(k)),
  );
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { ...inherited, DATABASE_URL: `file:${join(cwd, "data", "fly-preview.db")}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}
