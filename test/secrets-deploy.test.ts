import { afterEach, describe, expect, it } from "vitest";
import { seal } from "../src/secrets/crypto.js";
import { SecretStore } from "../src/secrets/index.js";
import { DOCKERFILE, pullRequest, sha, startWorld, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";
const KEY = "22".repeat(32);
const TOKEN = "sk_live_51HxQzTotallySecret";
const CERT = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----";

async function secretWorld(names: string[], stored: Record<string, string>) {
  world = await startWorld({ env: { PREVIEW_SECRETS_KEY: KEY } });
  world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": `secrets: [${names.join(", ")}]\n` });
  const secrets = new SecretStore(world.store.db, Buffer.from(KEY, "hex"));
  for (const [name, value] of Object.entries(stored)) await secrets.set("Codertocat", "Hello-World", name, value);
  return world;
}

/** Every place a value could leak to, as one string. */
function everythingShown(w: World): string {
  return JSON.stringify({
    checkRuns: w.gh.checkRuns,
    comments: w.gh.comments,
    deployments: w.gh.deployments,
    logs: w.logs,
    argv: w.fly.calls().map((c) => c.argv),
  });
}

describe("secrets", () => {
  it("a missing secret fails the deploy and names it, and nothing is deployed", async () => {
    await secretWorld(["API_KEY", "DB_URL", "SENTRY_DSN"], { API_KEY: TOKEN });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("Missing secrets: DB_URL, SENTRY_DSN");
    expect(row.last_error).toContain("fly-preview secrets set Codertocat/Hello-World NAME");
    const check = world.gh.checkRuns[0];
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("Missing secrets: DB_URL, SENTRY_DSN");
    expect(world.deploys()).toEqual([]);
    expect(everythingShown(world)).not.toContain(TOKEN);
  });

  it("present secrets are staged through stdin before the deploy, never in argv", async () => {
    await secretWorld(["API_KEY", "TLS_KEY"], { API_KEY: TOKEN, TLS_KEY: CERT });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("ready");
    const calls = world.fly.calls();
    const importAt = calls.findIndex((c) => c.argv[0] === "secrets");
    const deployAt = calls.findIndex((c) => c.argv[0] === "deploy");
    expect(importAt).toBeGreaterThanOrEqual(0);
    expect(importAt).toBeLessThan(deployAt);
    expect(calls[importAt].argv).toEqual(["secrets", "import", "-a", APP, "--stage"]);
    expect(calls[importAt].stdin).toContain(`API_KEY=${TOKEN}`);
    // A multi-line value travels whole, in flyctl's triple-quote form.
    expect(calls[importAt].stdin).toContain(`TLS_KEY="""${CERT}"""`);
    expect(Object.keys(world.fly.apps()[APP].secrets).sort()).toEqual(["API_KEY", "TLS_KEY"]);
    expect(everythingShown(world)).not.toContain(TOKEN);
  });

  it("values are redacted from check runs, comments, stored errors and logs, even when flyctl echoes them", async () => {
    await secretWorld(["API_KEY", "TLS_KEY"], { API_KEY: TOKEN, TLS_KEY: CERT });
    // The fake prints its stdin and its FLY_ environment, then fails: all of it lands
    // in the tail that the check run shows and the reason the comment shows.
    world.fly.setBehavior({ echo: true, secrets: [{ fail: "auth", message: `rejected API_KEY=${TOKEN}` }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("failed");
    const check = world.gh.checkRuns[0];
    expect(check.output?.text).toContain("fake flyctl echo: stdin: API_KEY=***");
    const shown = everythingShown(world) + JSON.stringify(row);
    expect(shown).not.toContain(TOKEN);
    for (const line of CERT.split("\n")) expect(shown).not.toContain(line);
    expect(shown).not.toContain("fo1_test_token_value");
  });

  it("a value stored before it was checked, which flyctl would change, fails the deploy by name and is never sent", async () => {
    const legacy = 'x"#sk_legacy_part\nrest\n';
    await secretWorld(["API_KEY", "LEGACY"], { API_KEY: TOKEN, LEGACY: "placeholder" });
    // Written as an older fly-preview stored it, before values were checked.
    await world.store.db
      .updateTable("secrets")
      .set({ value: seal(Buffer.from(KEY, "hex"), "codertocat/hello-world:LEGACY", legacy) })
      .where("name", "=", "LEGACY")
      .execute();
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("The secret LEGACY cannot reach Fly.io unchanged, so no secret was staged");
    expect(world.gh.checkRuns[0].output?.summary).toContain("The secret LEGACY cannot reach Fly.io unchanged");
    expect(world.fly.calls().filter((c) => c.argv[0] === "secrets" || c.argv[0] === "deploy")).toEqual([]);
    const shown = everythingShown(world) + JSON.stringify(row);
    expect(shown).not.toContain("sk_legacy_part");
    expect(shown).not.toContain(TOKEN);
  });
});
