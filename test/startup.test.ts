import { afterEach, describe, expect, it } from "vitest";
import { until } from "./harness.js";
import { freePort, startServerProcess, type ServerProcess } from "./server-process.js";

let server: ServerProcess | undefined;
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
    const { createHmac } = await import("node:crypto");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { openStore } = await import("../src/store/store.js");
    const { pullRequest, sha, TEST_PRIVATE_KEY } = await import("./harness.js");
    const port = await freePort();
    const db = join(mkdtempSync(join(tmpdir(), "fly-preview-sig-")), "fly-preview.db");
    server = startServerProcess({
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET: "the-real-secret",
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ENV: "test",
      GHE_HOST: "127.0.0.1:9",
      GHE_PROTOCOL: "http",
      DATABASE_URL: `file:${db}`,
    });
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    const body = JSON.stringify(pullRequest("opened", { sha: sha(1) }));
    const deliver = (secret: string, id: string) =>
      fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": id,
          "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
        },
        body,
      });

    const forged = await deliver("a-guessed-secret", "forged-1");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    const store = await openStore(`file:${db}`);
    try {
      expect(await store.list()).toEqual([]);
      const signed = await deliver("the-real-secret", "signed-1");
      expect(signed.status).toBe(200);
      expect((await store.list()).map((p) => p.number)).toEqual([2]);
    } finally {
      await store.close();
    }
  });
});

describe("the webhook URL", () => {
  it("a signed webhook to the URL the setup page registers for the App is accepted", async () => {
    const { createHmac } = await import("node:crypto");
    const { copyFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { openStore } = await import("../src/store/store.js");
    const { webhookPaths } = await import("../src/server/webhooks.js");
    const { pullRequest, sha, TEST_PRIVATE_KEY } = await import("./harness.js");
    const port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), "fly-preview-url-"));
    copyFileSync(new URL("../app.yml", import.meta.url), join(cwd, "app.yml"));

    // Setup mode, as on a first `npm start`: the manifest the page would send to GitHub.
    server = startServerProcess({ PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "development", NO_SMEE_SETUP: "true" }, cwd);
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
      cwd,
    );
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    const body = JSON.stringify(pullRequest("opened", { sha: sha(1) }));
    const deliver = (secret: string, id: string) =>
      fetch(registered, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": id,
          "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
        },
        body,
      });
    const store = await openStore(`file:${db}`);
    try {
      const forged = await deliver("a-guessed-secret", "forged-1");
      expect(forged.status).toBeGreaterThanOrEqual(400);
      expect(forged.status).toBeLessThan(500);
      expect(await store.list()).toEqual([]);
      const signed = await deliver("the-secret", "signed-1");
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
