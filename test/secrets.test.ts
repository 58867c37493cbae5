import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseSecretsKey, SecretsError, SecretStore } from "../src/secrets/index.js";
import { openStore, type Store } from "../src/store/store.js";

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";

let store: Store;
let now = 1_700_000_000_000;
const secrets = (key: Buffer = KEY) => new SecretStore(store.db, key, () => now);
const withoutKey = () => new SecretStore(store.db, undefined, () => now);

beforeEach(async () => {
  now = 1_700_000_000_000;
  store = await openStore("file::memory:");
});
afterEach(async () => {
  await store.close();
});

async function storedValue(repo: string, name: string): Promise<string> {
  const row = await store.db.selectFrom("secrets").select("value").where("repo", "=", repo).where("name", "=", name).executeTakeFirstOrThrow();
  return row.value;
}

describe("per-repository secrets", () => {
  it("refuses a value flyctl would change however it is sent, and stores nothing", async () => {
    const error = await secrets().set("acme", "web", "NOTE", 'x"#y\nz\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretsError);
    expect((error as Error).message).toMatch(/^the value of NOTE cannot reach Fly\.io unchanged, so it was not stored: flyctl secrets import would alter it \(its first line has a "#" after an odd number of '"'\) and flyctl secrets set would trim or refuse it \(it begins or ends with whitespace\)$/);
    expect(await secrets().list("acme", "web")).toEqual([]);
  });

  it("stores a value with \"\"\" now that it can reach Fly.io unchanged", async () => {
    await secrets().set("acme", "web", "NOTE", 'a """ b');
    expect((await secrets().resolve("acme", "web", ["NOTE"])).values).toEqual({ NOTE: 'a """ b' });
  });

  it("stores, lists, hands over and removes a repository's secrets", async () => {
    await secrets().set("acme", "web", "DATABASE_URL", "postgres://u:p@db/web");
    now += 1000;
    await secrets().set("acme", "web", "API_KEY", "k-123");
    await secrets().set("acme", "api", "API_KEY", "other-repo");

    expect(await secrets().list("acme", "web")).toEqual([
      { name: "API_KEY", updatedAt: now },
      { name: "DATABASE_URL", updatedAt: now - 1000 },
    ]);
    expect(await secrets().resolve("acme", "web", ["DATABASE_URL", "API_KEY"])).toEqual({
      values: { DATABASE_URL: "postgres://u:p@db/web", API_KEY: "k-123" },
      missing: [],
    });

    expect(await secrets().unset("acme", "web", "API_KEY")).toBe(true);
    expect(await secrets().unset("acme", "web", "API_KEY")).toBe(false);
    expect(await secrets().list("acme", "web")).toEqual([{ name: "DATABASE_URL", updatedAt: now - 1000 }]);
    expect((await secrets().resolve("acme", "api", ["API_KEY"])).values).toEqual({ API_KEY: "other-repo" });
  });

  it("replaces a value set again, and records when", async () => {
    await secrets().set("acme", "web", "TOKEN", "old");
    now += 60_000;
    await secrets().set("acme", "web", "TOKEN", "new");
    expect(await secrets().list("acme", "web")).toEqual([{ name: "TOKEN", updatedAt: now }]);
    expect((await secrets().resolve("acme", "web", ["TOKEN"])).values).toEqual({ TOKEN: "new" });
  });

  it("gives back a multi-line value exactly", async () => {
    await secrets().set("acme", "web", "PRIVATE_KEY", PEM);
    await secrets().set("acme", "web", "CRLF", "a\r\nb\r\n");
    expect((await secrets().resolve("acme", "web", ["PRIVATE_KEY", "CRLF"])).values).toEqual({ PRIVATE_KEY: PEM, CRLF: "a\r\nb\r\n" });
  });

  it("never writes a value to the database in plaintext", async () => {
    const value = "hunter2-hunter2-hunter2";
    await secrets().set("acme", "web", "PASSWORD", value);
    const stored = await storedValue("web", "PASSWORD");
    expect(stored).not.toContain(value);
    expect(Buffer.from(stored, "base64").toString("latin1")).not.toContain(value);
    // Each write gets its own IV: the same value never looks the same twice.
    await secrets().set("acme", "web", "PASSWORD", value);
    expect(await storedValue("web", "PASSWORD")).not.toBe(stored);
  });

  it("reports the names that are not stored, sorted", async () => {
    await secrets().set("acme", "web", "B_SET", "b");
    expect(await secrets().resolve("acme", "web", ["Z_MISSING", "B_SET", "A_MISSING"])).toEqual({
      values: { B_SET: "b" },
      missing: ["A_MISSING", "Z_MISSING"],
    });
  });

  it("needs no key to resolve a repository that has no secrets", async () => {
    expect(await withoutKey().resolve("acme", "web", [])).toEqual({ values: {}, missing: [] });
    expect(await withoutKey().resolve("acme", "web", ["TOKEN"])).toEqual({ values: {}, missing: ["TOKEN"] });
  });

  it("treats owner and repository names without regard to case, as GitHub does", async () => {
    await secrets().set("Acme", "Web", "TOKEN", "t");
    expect((await secrets().resolve("acme", "web", ["TOKEN"])).values).toEqual({ TOKEN: "t" });
    expect(await secrets().list("ACME", "WEB")).toHaveLength(1);
  });

  it("refuses a name that is not an environment variable name", async () => {
    for (const name of ["1ST", "WITH-DASH", "with space", ""]) {
      await expect(secrets().set("acme", "web", name, "v")).rejects.toThrow(SecretsError);
    }
  });

  it("refuses to store a secret without a key, saying how to make one", async () => {
    await expect(withoutKey().set("acme", "web", "TOKEN", "v")).rejects.toThrow(
      /PREVIEW_SECRETS_KEY is not set.*openssl rand -hex 32/,
    );
  });
});

describe("the secrets key", () => {
  it("may be absent when no secret is stored", async () => {
    await expect(withoutKey().check()).resolves.toBeUndefined();
  });

  it("must be set when secrets are stored", async () => {
    await secrets().set("acme", "web", "TOKEN", "v");
    await expect(withoutKey().check()).rejects.toThrow(
      "secrets are stored but PREVIEW_SECRETS_KEY is not set: set it to the key they were encrypted with",
    );
    await expect(withoutKey().resolve("acme", "web", ["TOKEN"])).rejects.toThrow(/PREVIEW_SECRETS_KEY is not set/);
  });

  it("must be the key the stored secrets were encrypted with", async () => {
    await secrets().set("acme", "web", "TOKEN", "v");
    await expect(secrets().check()).resolves.toBeUndefined();
    const wrong = "PREVIEW_SECRETS_KEY does not match the key the stored secrets were encrypted with";
    await expect(secrets(OTHER_KEY).check()).rejects.toThrow(wrong);
    // A write under the wrong key would leave values nobody can decrypt together.
    await expect(secrets(OTHER_KEY).set("acme", "api", "TOKEN", "v")).rejects.toThrow(wrong);
  });

  it("can be replaced once every secret is removed", async () => {
    await secrets().set("acme", "web", "TOKEN", "v");
    await secrets().unset("acme", "web", "TOKEN");
    await secrets(OTHER_KEY).set("acme", "web", "TOKEN", "w");
    await expect(secrets(OTHER_KEY).check()).resolves.toBeUndefined();
    await expect(secrets().check()).rejects.toThrow(/does not match/);
  });

  it("is 64 hex characters or 44 base64 characters", () => {
    const bytes = randomBytes(32);
    expect(parseSecretsKey(bytes.toString("hex"))).toEqual(bytes);
    expect(parseSecretsKey(bytes.toString("hex").toUpperCase())).toEqual(bytes);
    expect(parseSecretsKey(bytes.toString("base64"))).toEqual(bytes);
    expect(parseSecretsKey(` ${bytes.toString("hex")}\n`)).toEqual(bytes);
    expect(parseSecretsKey(undefined)).toBeUndefined();
    expect(parseSecretsKey("")).toBeUndefined();
    expect(parseSecretsKey("  ")).toBeUndefined();
  });

  it("rejects anything else, naming the variable and how to make one, without echoing it", () => {
    const malformed = [
      "correct horse battery staple",
      randomBytes(16).toString("hex"),
      randomBytes(33).toString("hex"),
      `${randomBytes(32).toString("hex").slice(0, 63)}g`,
      randomBytes(31).toString("base64"),
      randomBytes(32).toString("base64url"),
    ];
    for (const raw of malformed) {
      let error: unknown;
      try {
        parseSecretsKey(raw);
      } catch (e) {
        error = e;
      }
      expect(error, raw).toBeInstanceOf(SecretsError);
      expect((error as Error).message).toMatch(/^PREVIEW_SECRETS_KEY must be 32 bytes .*openssl rand -hex 32/);
      expect((error as Error).message).not.toContain(raw);
    }
  });
});

describe("a stored value that was tampered with", () => {
  const cannotDecrypt = /the secret TOKEN of acme\/web cannot be decrypted/;

  it("fails to decrypt when a byte changed", async () => {
    await secrets().set("acme", "web", "TOKEN", "v-123456");
    const bytes = Buffer.from(await storedValue("web", "TOKEN"), "base64");
    bytes[14] ^= 1;
    await store.db.updateTable("secrets").set({ value: bytes.toString("base64") }).where("name", "=", "TOKEN").execute();
    await expect(secrets().resolve("acme", "web", ["TOKEN"])).rejects.toThrow(cannotDecrypt);
  });

  it("fails to decrypt when copied from another repository", async () => {
    await secrets().set("acme", "api", "TOKEN", "api-token");
    await secrets().set("acme", "web", "TOKEN", "web-token");
    await store.db.updateTable("secrets").set({ value: await storedValue("api", "TOKEN") }).where("repo", "=", "web").execute();
    await expect(secrets().resolve("acme", "web", ["TOKEN"])).rejects.toThrow(cannotDecrypt);
  });

  it("fails to decrypt when copied from another name", async () => {
    await secrets().set("acme", "web", "OTHER", "other");
    await secrets().set("acme", "web", "TOKEN", "token");
    await store.db.updateTable("secrets").set({ value: await storedValue("web", "OTHER") }).where("name", "=", "TOKEN").execute();
    await expect(secrets().resolve("acme", "web", ["TOKEN"])).rejects.toThrow(cannotDecrypt);
  });

  it("fails to decrypt when truncated", async () => {
    await secrets().set("acme", "web", "TOKEN", "token");
    await store.db.updateTable("secrets").set({ value: "AAAA" }).execute();
    await expect(secrets().resolve("acme", "web", ["TOKEN"])).rejects.toThrow(cannotDecrypt);
  });
});
