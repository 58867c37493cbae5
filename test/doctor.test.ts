import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { SecretStore } from "../src/secrets/index.js";
import { openStore } from "../src/store/store.js";
import { createFakeFly, type FakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";

const KEY = "11".repeat(32);

function keyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
}
const appKey = keyPair();

let gh: FakeGitHub;
let fly: FakeFly;
let dir: string;
let dbFile: string;

beforeAll(async () => {
  gh = await startFakeGitHub();
  gh.setAppPublicKey(appKey.publicKey);
});
afterAll(async () => {
  await gh.close();
});
beforeEach(async () => {
  gh.setHookUrl("https://previews.example.com/api/github/webhooks");
  fly = await createFakeFly();
  dir = mkdtempSync(join(tmpdir(), "fly-preview-doctor-"));
  dbFile = join(dir, "previews.db");
  await (await openStore(`file:${dbFile}`)).close();
});
afterEach(async () => {
  await fly.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The server's environment, all of it right. */
function goodEnv(): NodeJS.ProcessEnv {
  return {
    APP_ID: "1",
    PRIVATE_KEY: appKey.privateKey,
    WEBHOOK_SECRET: "webhook-secret",
    GHE_HOST: gh.host,
    GHE_PROTOCOL: "http",
    DATABASE_URL: `file:${dbFile}`,
    FLYCTL_PATH: fly.path,
    FLY_API_TOKEN: "t0ken",
    FLY_ORG: "personal",
    PREVIEW_SECRETS_KEY: KEY,
  };
}

async function doctor(env: NodeJS.ProcessEnv): Promise<{ code: number; lines: string[]; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["doctor"], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), stdin: async () => "", env });
  return { code, lines: stdout.trimEnd().split("\n"), stdout, stderr };
}

describe("fly-preview doctor", () => {
  it("says everything is in order, and exits 0, when it is", async () => {
    const run = await doctor(goodEnv());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "✓ the settings parse",
        "✓ the private key parses",
        "✓ GitHub knows the App fly-preview (https://github.com/apps/fly-preview)",
        "✓ webhooks go to https://previews.example.com/api/github/webhooks",
        "✓ WEBHOOK_SECRET is set",
        `✓ the database is reachable and up to date (SQLite at ${dbFile})`,
        `✓ flyctl v0.4.87 at ${fly.path}, the version fly-preview is pinned to`,
        "✓ the Fly token can use the organization personal (personal)",
        "✓ PREVIEW_SECRETS_KEY is set; no secrets are stored yet",
        "all 9 checks passed",
        "",
      ].join("\n"),
    );
    // The token proof is the cheapest call that names the organizations.
    expect(fly.calls().map((c) => c.argv)).toEqual([["version"], ["orgs", "list", "--json"]]);
    expect(run.stdout).not.toContain("t0ken");
  });

  it("accepts a private key written on one line with \\n, as Probot does", async () => {
    const run = await doctor({ ...goodEnv(), PRIVATE_KEY: appKey.privateKey.trimEnd().replace(/\n/g, "\\n") });
    expect(run.code).toBe(0);
    expect(run.lines).toContain("✓ the private key parses");
  });

  it("names a setting that does not parse, and checks what does not need the settings", async () => {
    const run = await doctor({ ...goodEnv(), FLY_ORG: "Acme Inc" });
    expect(run.code).toBe(1);
    expect(run.lines[0]).toBe('✗ the settings do not parse: FLY_ORG must be a Fly organization slug such as "personal", got "Acme Inc" — fix: correct that variable');
    expect(run.lines).toContain("✓ GitHub knows the App fly-preview (https://github.com/apps/fly-preview)");
    expect(run.lines).toContain("✗ flyctl not checked — fix: make the settings parse first");
    expect(run.stderr).toBe("fly-preview: 4 checks failed\n");
  });

  it("says APP_ID is missing", async () => {
    const run = await doctor({ ...goodEnv(), APP_ID: "" });
    expect(run.code).toBe(1);
    expect(run.lines[1]).toBe(
      "✗ APP_ID is not set — fix: set it to the App's id (its settings page on GitHub), or start the server without it once to register the App from app.yml",
    );
  });

  it("says the private key is missing, or does not parse, without printing it", async () => {
    const missing = await doctor({ ...goodEnv(), PRIVATE_KEY: "" });
    expect(missing.code).toBe(1);
    expect(missing.lines[1]).toMatch(/^✗ APP_ID is set but PRIVATE_KEY \(or PRIVATE_KEY_PATH\) is not: .+ — fix: set PRIVATE_KEY to the whole \.pem file/);

    const garbled = "-----BEGIN RSA PRIVATE KEY-----\nbm90LWEta2V5LWF0LWFsbA==\n-----END RSA PRIVATE KEY-----\n";
    const bad = await doctor({ ...goodEnv(), PRIVATE_KEY: garbled });
    expect(bad.code).toBe(1);
    expect(bad.lines[1]).toMatch(/^✗ PRIVATE_KEY is not a valid private key \(.+\): .+ — fix: set PRIVATE_KEY to the whole \.pem file/);
    expect(bad.stdout).not.toContain("bm90LWEta2V5");

    const notPem = await doctor({ ...goodEnv(), PRIVATE_KEY: "ssh-rsa AAAA" });
    expect(notPem.lines[1]).toMatch(/^✗ PRIVATE_KEY is not a PEM private key: /);
    expect(notPem.stdout).not.toContain("AAAA");
  });

  it("says GitHub rejects a private key that is not the App's", async () => {
    const run = await doctor({ ...goodEnv(), PRIVATE_KEY: keyPair().privateKey });
    expect(run.code).toBe(1);
    expect(run.lines[1]).toBe("✓ the private key parses");
    expect(run.lines[2]).toMatch(
      /^✗ GitHub rejects the private key for APP_ID 1: A JSON web token could not be decoded.* — fix: check that APP_ID is this App's id, or generate a private key/,
    );
  });

  it("says GitHub rejects the key when APP_ID names another App", async () => {
    const run = await doctor({ ...goodEnv(), APP_ID: "2" });
    expect(run.lines[2]).toMatch(/^✗ GitHub rejects the private key for APP_ID 2/);
  });

  it("warns, without failing, when the App's webhook URL is not where the server takes webhooks", async () => {
    gh.setHookUrl("https://previews.example.com/hooks");
    const run = await doctor(goodEnv());
    expect(run.code).toBe(0);
    expect(run.lines[3]).toBe(
      "⚠ webhooks go to https://previews.example.com/hooks, but this server takes them at /api/github/webhooks — fix: change the App's webhook URL to end in /api/github/webhooks (or set WEBHOOK_PATH=/hooks); ignore this behind a proxy that rewrites the path",
    );
    expect(run.lines.at(-1)).toBe("all 9 checks passed (1 warning)");

    const moved = await doctor({ ...goodEnv(), WEBHOOK_PATH: "/hooks" });
    expect(moved.lines[3]).toBe("✓ webhooks go to https://previews.example.com/hooks");
  });

  it("accepts the server's root as the webhook URL, which the setup page registers and the server serves", async () => {
    gh.setHookUrl("https://previews.example.com/");
    const run = await doctor(goodEnv());
    expect(run.lines[3]).toBe("✓ webhooks go to https://previews.example.com/");
  });

  it("fails when the App has no webhook URL", async () => {
    gh.setHookUrl("");
    const run = await doctor(goodEnv());
    expect(run.code).toBe(1);
    expect(run.lines[3]).toMatch(/^✗ the App has no webhook URL, so GitHub sends this server nothing — fix: /);
  });

  it("says WEBHOOK_SECRET is missing", async () => {
    const run = await doctor({ ...goodEnv(), WEBHOOK_SECRET: undefined });
    expect(run.code).toBe(1);
    expect(run.lines[4]).toBe(
      "✗ WEBHOOK_SECRET is not set, so GitHub's deliveries cannot be verified — fix: set it to the webhook secret entered in the App's settings on GitHub",
    );
  });

  it("reports a database that is not migrated, and leaves it so", async () => {
    const empty = join(dir, "empty.db");
    new SQLite(empty).close();
    const run = await doctor({ ...goodEnv(), DATABASE_URL: `file:${empty}` });
    expect(run.code).toBe(1);
    expect(run.lines[5]).toMatch(new RegExp(`^✗ the database \\(SQLite at ${empty}\\) has \\d+ migrations to run: 0001_previews, 0002_\\S+, .* — fix: run \`fly-preview migrate\`, or start the server`));
    expect(run.lines).toContain("✗ the secrets key not checked — fix: make the database reachable and up to date first");
    const db = new SQLite(empty);
    expect(db.prepare("select name from sqlite_master").all()).toEqual([]);
    db.close();
  });

  it("reports a SQLite file that does not exist, without creating it", async () => {
    const missing = join(dir, "nowhere", "previews.db");
    const run = await doctor({ ...goodEnv(), DATABASE_URL: `file:${missing}` });
    expect(run.code).toBe(1);
    expect(run.lines[5]).toMatch(new RegExp(`^✗ the database cannot be opened \\(SQLite at ${missing}\\): the SQLite file ${missing} does not exist — fix: check DATABASE_URL`));
    expect(existsSync(join(dir, "nowhere"))).toBe(false);
  });

  it("reports a PostgreSQL server it cannot reach, never printing the password", async () => {
    const run = await doctor({ ...goodEnv(), DATABASE_URL: "postgres://fly:hunter2@127.0.0.1:1/previews" });
    expect(run.code).toBe(1);
    expect(run.lines[5]).toMatch(/^✗ the database cannot be opened \(PostgreSQL at 127\.0\.0\.1:1\/previews\): .*ECONNREFUSED/);
    expect(run.stdout + run.stderr).not.toContain("hunter2");
  });

  it("says flyctl is not where FLYCTL_PATH points", async () => {
    const run = await doctor({ ...goodEnv(), FLYCTL_PATH: join(dir, "no-flyctl") });
    expect(run.code).toBe(1);
    expect(run.lines[6]).toBe(
      `✗ flyctl was not found at "${join(dir, "no-flyctl")}" (FLYCTL_PATH) — fix: install flyctl v0.4.87 and set FLYCTL_PATH to it (the Docker image has it at /usr/local/bin/flyctl)`,
    );
    expect(run.lines[7]).toBe("✗ the Fly token not checked — fix: make flyctl run first");
  });

  it("says flyctl is not the pinned version", async () => {
    fly.setBehavior({ version: "0.5.2" });
    const run = await doctor(goodEnv());
    expect(run.code).toBe(1);
    expect(run.lines[6]).toBe(
      `✗ flyctl at ${fly.path} is v0.5.2, but fly-preview is pinned to v0.4.87, whose arguments and messages it relies on — fix: install flyctl v0.4.87 and set FLYCTL_PATH to it (the Docker image has it at /usr/local/bin/flyctl)`,
    );
    expect(run.lines[7]).toBe("✓ the Fly token can use the organization personal (personal)");
  });

  it("says FLY_API_TOKEN is missing", async () => {
    const run = await doctor({ ...goodEnv(), FLY_API_TOKEN: "" });
    expect(run.code).toBe(1);
    expect(run.lines[7]).toBe("✗ FLY_API_TOKEN is not set — fix: create a token with `flyctl tokens create org -o personal` and set FLY_API_TOKEN to it");
  });

  it("says Fly.io rejects the token, without printing it", async () => {
    fly.setBehavior({ orgs: [{ fail: "auth" }] });
    const run = await doctor(goodEnv());
    expect(run.code).toBe(1);
    expect(run.lines[7]).toBe(
      "✗ Fly.io rejects FLY_API_TOKEN: You must be authenticated to view this. — fix: create a token with `flyctl tokens create org -o personal` and set FLY_API_TOKEN to it",
    );
    expect(run.stdout).not.toContain("t0ken");
  });

  it("says the token cannot see FLY_ORG, and which organizations it sees", async () => {
    const run = await doctor({ ...goodEnv(), FLY_ORG: "acme" });
    expect(run.code).toBe(1);
    expect(run.lines[7]).toBe(
      '✗ the Fly token cannot see the organization "acme" (FLY_ORG); it sees personal — fix: set FLY_ORG to the organization previews belong in, or create a token with `flyctl tokens create org -o acme` and set FLY_API_TOKEN to it',
    );
  });

  it("says PREVIEW_SECRETS_KEY does not match the stored secrets, or is missing", async () => {
    const store = await openStore(`file:${dbFile}`);
    await new SecretStore(store.db, Buffer.from(KEY, "hex")).set("acme", "web", "TOKEN", "v");
    await store.close();

    expect((await doctor(goodEnv())).lines[8]).toBe("✓ PREVIEW_SECRETS_KEY matches the key the stored secrets were encrypted with");
    const wrong = await doctor({ ...goodEnv(), PREVIEW_SECRETS_KEY: "22".repeat(32) });
    expect(wrong.code).toBe(1);
    expect(wrong.lines[8]).toBe(
      "✗ PREVIEW_SECRETS_KEY does not match the key the stored secrets were encrypted with — fix: set PREVIEW_SECRETS_KEY to the key the stored secrets were encrypted with",
    );
    const unset = await doctor({ ...goodEnv(), PREVIEW_SECRETS_KEY: "" });
    expect(unset.lines[8]).toMatch(/^✗ secrets are stored but PREVIEW_SECRETS_KEY is not set/);
  });
});
