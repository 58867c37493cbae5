import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pullRequest, sha, until } from "./harness.js";
import { freePort, startServerProcess, type ServerProcess } from "./server-process.js";

let server: ServerProcess | undefined;

/** Posts a pull_request webhook signed with `secret`: to the server on a port (at WEBHOOK_PATH), or to a URL. */
function deliver(to: number | URL, secret: string, id: string): Promise<Response> {
  const body = JSON.stringify(pullRequest("opened", { sha: sha(1) }));
  return fetch(typeof to === "number" ? `http://127.0.0.1:${to}/api/github/webhooks` : to, {
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
afterEach(() => {
  server?.child.kill("SIGKILL");
  server = undefined;
});

describe("start-up", () => {
  it("with no configuration serves Probot's setup page", async () => {
    const port = await freePort();
    server = startServerProcess({ PORT: String(port), NODE_ENV: "development" });
    const response = await until(
      "the setup page",
      () => fetch(`http://localhost:${port}/probot`).catch(() => undefined),
      30_000,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Register GitHub App");
  });

  it("stops at an invalid setting and names the variable", async () => {
    server = startServerProcess({ PREVIEW_CONCURRENCY: "abc", APP_ID: "1", PRIVATE_KEY: "x" });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('PREVIEW_CONCURRENCY must be a whole number between 1 and 64, got "abc"');
  });
});

describe("webhook signatures", () => {
  it("a delivery with a bad signature is rejected and records nothing; a signed one is taken", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { openStore } = await import("../src/store/store.js");
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const port = await freePort();
    const db = join(mkdtempSync(join(tmpdir(), "fly-preview-sig-")), "fly-preview.db");
    server = startServerProcess({
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET: "the-real-secret",
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ENV: "test",
      LOG_FORMAT: "json",
      GHE_HOST: "127.0.0.1:9",
      GHE_PROTOCOL: "http",
      DATABASE_URL: `file:${db}`,
    });
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);

    const forged = await deliver(port, "a-guessed-secret", "forged-1");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    // One line, besides the access log's for every request: event, delivery id and the
    // reason; never the payload.
    await until("the access log line", () => server!.output().includes('"id":"forged-1"'));
    expect(lines(server).filter((line) => line.includes("forged-1") && !line.includes('"name":"http"'))).toEqual([
      expect.stringContaining("webhook pull_request (delivery forged-1) rejected: signature does not match WEBHOOK_SECRET"),
    ]);
    expect(server.output()).not.toContain("Codertocat");
    const store = await openStore(`file:${db}`);
    try {
      expect(await store.list()).toEqual([]);
      const signed = await deliver(port, "the-real-secret", "signed-1");
      expect(signed.status).toBe(200);
      expect((await store.list()).map((p) => p.number)).toEqual([2]);
    } finally {
      await store.close();
    }
  });
});

describe("the webhook URL", () => {
  it("a signed webhook to the URL the setup page registers for the App is accepted", async () => {
    const { copyFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { openStore } = await import("../src/store/store.js");
    const { webhookPaths } = await import("../src/server/webhooks.js");
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), "fly-preview-url-"));
    copyFileSync(new URL("../app.yml", import.meta.url), join(cwd, "app.yml"));

    // Setup mode, as on a first `npm start`: the manifest the page would send to GitHub.
    server = startServerProcess({ PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "development", NO_SMEE_SETUP: "true" }, { cwd });
    const page = await until("the setup page", () => fetch(`http://127.0.0.1:${port}/probot`).then((r) => r.text()).catch(() => undefined), 30_000);
    const manifest = JSON.parse(page.match(/name="manifest" id="manifest" value='([^']*)'/)![1]);
    const registered = new URL(manifest.hook_attributes.url);
    expect(registered.origin).toBe(`http://127.0.0.1:${port}`);
    expect(webhookPaths({})).toContain(registered.pathname);
    server.child.kill("SIGKILL");
    await server.exited;

    const db = join(cwd, "registered.db");
    server = startServerProcess(
      {
        APP_ID: "1",
        PRIVATE_KEY: TEST_PRIVATE_KEY,
        WEBHOOK_SECRET: "the-secret",
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ENV: "test",
        GHE_HOST: "127.0.0.1:9",
        GHE_PROTOCOL: "http",
        DATABASE_URL: `file:${db}`,
      },
      { cwd },
    );
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    const store = await openStore(`file:${db}`);
    try {
      const forged = await deliver(registered, "a-guessed-secret", "forged-1");
      expect(forged.status).toBeGreaterThanOrEqual(400);
      expect(forged.status).toBeLessThan(500);
      expect(await store.list()).toEqual([]);
      const signed = await deliver(registered, "the-secret", "signed-1");
      expect(signed.status).toBe(200);
      expect((await store.list()).map((p) => p.number)).toEqual([2]);
      // The root still answers nothing else: a GET is no webhook.
      expect((await fetch(registered)).status).toBe(404);
    } finally {
      await store.close();
    }
  });
});

describe("secrets key at start-up", () => {
  it("refuses to start without PREVIEW_SECRETS_KEY while secrets are stored, and with a wrong one", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { openStore } = await import("../src/store/store.js");
    const { SecretStore } = await import("../src/secrets/index.js");
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const db = join(mkdtempSync(join(tmpdir(), "fly-preview-key-")), "fly-preview.db");
    const store = await openStore(`file:${db}`);
    await new SecretStore(store.db, Buffer.alloc(32, 1)).set("acme", "web", "API_KEY", "value");
    await store.close();
    const env = { APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET: "s", PORT: String(await freePort()), DATABASE_URL: `file:${db}` };

    server = startServerProcess(env);
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain("PREVIEW_SECRETS_KEY");

    server = startServerProcess({ ...env, PREVIEW_SECRETS_KEY: "02".repeat(32) });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain("does not match the key the stored secrets were encrypted with");
  });
});

/** `.env` lines, as Probot's setup page writes them: newlines escaped as \n. */
function dotEnv(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${v.replace(/\n/g, "\\n")}`)
    .join("\n");
}

/** The lines the server printed, without blank ones. */
function lines(process: ServerProcess): string[] {
  return process.output().split("\n").filter((line) => line.trim() !== "");
}

describe(".env", () => {
  it("settings written only in .env are used by the server and by Probot", async () => {
    const { startFakeGitHub } = await import("./fake-github/server.js");
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const github = await startFakeGitHub();
    const dir = mkdtempSync(join(tmpdir(), "fly-preview-dotenv-"));
    const port = await freePort();
    try {
      server = startServerProcess(
        { NODE_ENV: "production" },
        {
          dotEnv: dotEnv({
            APP_ID: "1",
            PRIVATE_KEY: TEST_PRIVATE_KEY,
            WEBHOOK_SECRET: "from-dotenv",
            GHE_HOST: github.host,
            GHE_PROTOCOL: "http",
            PORT: String(port),
            HOST: "127.0.0.1",
            DATABASE_URL: `file:${join(dir, "where-dotenv-said.db")}`,
            FLY_API_TOKEN: "fo1_from_dotenv",
          }),
        },
      );
      await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
      expect(existsSync(join(dir, "where-dotenv-said.db"))).toBe(true);
      expect(existsSync(join(server.cwd, "data"))).toBe(false);
      expect(server.output()).not.toContain("FLY_API_TOKEN is not set");
      // Probot's own settings too: it authenticated against GHE_HOST with APP_ID and the key.
      expect(github.requests.some((r) => r.method === "GET" && r.path === "/api/v3/app")).toBe(true);
      expect((await deliver(port, "from-dotenv", "signed-1")).status).toBe(200);
    } finally {
      await github.close();
    }
  });

  it("a bad value in .env stops start-up with one line naming the variable", async () => {
    server = startServerProcess({}, { dotEnv: "PREVIEW_CONCURRENCY=abc\n" });
    expect(await server.exited).toBe(1);
    expect(lines(server)).toEqual([
      'fly-preview: configuration error: PREVIEW_CONCURRENCY must be a whole number between 1 and 64, got "abc"',
    ]);
  });

  it("a variable set in the shell wins over .env, for our settings and Probot's", async () => {
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const dir = mkdtempSync(join(tmpdir(), "fly-preview-dotenv-"));
    const port = await freePort();
    server = startServerProcess(
      {
        DATABASE_URL: `file:${join(dir, "from-shell.db")}`,
        PREVIEW_CONCURRENCY: "2",
        WEBHOOK_SECRET: "from-shell",
        APP_ID: "1",
        PRIVATE_KEY: TEST_PRIVATE_KEY,
        PORT: String(port),
        HOST: "127.0.0.1",
        GHE_HOST: "127.0.0.1:9",
        GHE_PROTOCOL: "http",
      },
      {
        dotEnv: dotEnv({
          DATABASE_URL: `file:${join(dir, "from-dotenv.db")}`,
          PREVIEW_CONCURRENCY: "abc",
          WEBHOOK_SECRET: "from-dotenv",
        }),
      },
    );
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    expect(existsSync(join(dir, "from-shell.db"))).toBe(true);
    expect(existsSync(join(dir, "from-dotenv.db"))).toBe(false);
    expect((await deliver(port, "from-dotenv", "dotenv-1")).status).toBe(400);
    expect((await deliver(port, "from-shell", "shell-1")).status).toBe(200);
  });
});

describe("the GitHub App's private key at start-up", () => {
  const stopsWith = async (env: Record<string, string>, line: string | RegExp) => {
    server = startServerProcess({ WEBHOOK_SECRET: "s", PORT: String(await freePort()), ...env });
    expect(await server.exited).toBe(1);
    expect(lines(server)).toHaveLength(1);
    expect(lines(server)[0]).toMatch(line);
  };

  it("APP_ID without a key stops with one line instead of showing the setup page", async () => {
    await stopsWith(
      { APP_ID: "1" },
      /^fly-preview: configuration error: APP_ID is set but PRIVATE_KEY \(or PRIVATE_KEY_PATH\) is not/,
    );
  });

  it("a PRIVATE_KEY that is not a key stops with one line naming PRIVATE_KEY", async () => {
    await stopsWith({ APP_ID: "1", PRIVATE_KEY: "not-a-key" }, /^fly-preview: configuration error: PRIVATE_KEY is not a PEM private key/);
  });

  it("a PEM-shaped PRIVATE_KEY that is not valid stops with one line naming PRIVATE_KEY", async () => {
    const garbage = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END RSA PRIVATE KEY-----\n";
    await stopsWith({ APP_ID: "1", PRIVATE_KEY: garbage }, /^fly-preview: configuration error: PRIVATE_KEY is not a valid private key \(/);
    expect(server!.output()).not.toContain("bm90IGEga2V5IGF0IGFsbA");
  });

  it("a key GitHub rejects stops start-up with one configuration error", async () => {
    const { startFakeGitHub } = await import("./fake-github/server.js");
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const github = await startFakeGitHub();
    github.failNext("GET", "/api/v3/app", 401, 1, { message: "A JSON web token could not be decoded" });
    try {
      server = startServerProcess({
        APP_ID: "1",
        PRIVATE_KEY: TEST_PRIVATE_KEY,
        WEBHOOK_SECRET: "s",
        PORT: String(await freePort()),
        NODE_ENV: "production",
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
      });
      expect(await server.exited).toBe(1);
      expect(lines(server).filter((line) => !line.startsWith("{"))).toEqual([
        expect.stringMatching(/^fly-preview: configuration error: GitHub rejected the App's credentials \(401 on GET \/app/),
      ]);
      expect(server.output()).not.toMatch(/\n\s+at /);
      expect(github.requests.filter((r) => r.path === "/api/v3/app")).toHaveLength(1);
    } finally {
      await github.close();
    }
  });
});

describe("start-up failures", () => {
  it("an unreachable PostgreSQL stops with one line naming the host, never the password", async () => {
    const port = await freePort();
    server = startServerProcess({ DATABASE_URL: `postgres://fly:hunter2-secret@127.0.0.1:${port}/previews`, NODE_ENV: "production", APP_ID: "1", PRIVATE_KEY: (await import("./harness.js")).TEST_PRIVATE_KEY, GHE_HOST: "127.0.0.1:9", GHE_PROTOCOL: "http", PORT: String(await freePort()) });
    expect(await server.exited).toBe(1);
    const errors = lines(server).filter((line) => !line.startsWith("{"));
    expect(errors).toEqual([
      `fly-preview: configuration error: cannot reach the database at 127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); check DATABASE_URL`,
    ]);
    expect(server.output()).not.toContain("hunter2-secret");
  });
});

describe("flyctl at start-up", () => {
  const start = async (flyctlPath: string) => {
    const { TEST_PRIVATE_KEY } = await import("./harness.js");
    const port = await freePort();
    server = startServerProcess({
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET: "s",
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ENV: "production",
      GHE_HOST: "127.0.0.1:9",
      GHE_PROTOCOL: "http",
      FLYCTL_PATH: flyctlPath,
    });
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    return lines(server).filter((line) => line.includes("flyctl"));
  };

  it("warns once when flyctl is missing, naming the path it looked at", async () => {
    expect(await start("/nowhere/flyctl")).toEqual([expect.stringContaining('flyctl was not found at \\"/nowhere/flyctl\\"')]);
  });

  it("warns once when flyctl is not the pinned version, and not at all when it is", async () => {
    const { writeFileSync } = await import("node:fs");
    const old = join(mkdtempSync(join(tmpdir(), "old-flyctl-")), "flyctl");
    // What `flyctl version` prints (buildinfo.go), from an older release.
    writeFileSync(old, "#!/bin/sh\necho 'flyctl v0.3.100 linux/amd64 Commit: abc BuildDate: 2025-01-01T00:00:00Z'\n", { mode: 0o755 });
    expect(await start(old)).toEqual([expect.stringContaining(`flyctl at \\"${old}\\" is v0.3.100, but fly-preview is made for v0.4.87`)]);
    server!.child.kill("SIGKILL");

    const { createFakeFly } = await import("./fake-flyctl/control.js");
    const fly = await createFakeFly();
    try {
      expect(await start(fly.path)).toEqual([]);
    } finally {
      server!.child.kill("SIGKILL");
      await fly.cleanup();
    }
  });
});
