// Runs the real entry point (`src/main.ts`, what `npm start` runs after building) as
// a child process, from an empty working directory so no developer's .env leaks in.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
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
  /** The working directory it started in. */
  cwd: string;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * `cwd`: where it runs (Probot's setup page reads app.yml there); a new empty directory
 * by default. `dotEnv`: the text of a `.env` written there first; then DATABASE_URL is
 * left to it (or to `env`) instead of defaulting to a file in that directory.
 */
export function startServerProcess(
  env: Record<string, string>,
  options: { dotEnv?: string; cwd?: string } = {},
): ServerProcess {
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), "fly-preview-cwd-"));
  if (options.dotEnv !== undefined) writeFileSync(join(cwd, ".env"), options.dotEnv);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(APP_ID|PRIVATE_KEY|WEBHOOK_SECRET|GHE_|FLY_|DATABASE_URL|PREVIEW_|LOG_)/.test(k)),
  );
  const database = options.dotEnv === undefined ? { DATABASE_URL: `file:${join(cwd, "data", "fly-preview.db")}` } : {};
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { ...inherited, ...database, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, cwd, output: () => output, exited };
}

/**
 * The environment of a real server wired to a fake GitHub and a fake flyctl, as the
 * crash tests run it: the App's credentials, its address, a SQLite file in `dir`.
 */
export function fakeWorldEnv(o: {
  gh: { host: string };
  fly: { path: string; stateDir: string };
  port: number;
  dir: string;
  secret: string;
  privateKey: string;
}): Record<string, string> {
  return {
    APP_ID: "1",
    PRIVATE_KEY: o.privateKey,
    WEBHOOK_SECRET: o.secret,
    GHE_HOST: o.gh.host,
    GHE_PROTOCOL: "http",
    PORT: String(o.port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    NODE_ENV: "test",
    DATABASE_URL: `file:${join(o.dir, "fly-preview.db")}`,
    FLY_API_TOKEN: "fo1_test_token_value",
    FLYCTL_PATH: o.fly.path,
    FAKE_FLYCTL_STATE: o.fly.stateDir,
  };
}

/** A `pull_request` delivery signed with `secret`, as GitHub sends it, to the server on `port`. */
export function deliverSigned(port: number, secret: string, payload: unknown, id: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
    body,
  });
}

