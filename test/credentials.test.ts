import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readAppCredentials } from "../src/credentials.js";
import { TEST_PRIVATE_KEY } from "./harness.js";

const PKCS1 = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;
const emptyDir = () => mkdtempSync(join(tmpdir(), "fly-preview-creds-"));
const read = (env: NodeJS.ProcessEnv, cwd = emptyDir()) => readAppCredentials(env, cwd);

// The forms @probot/get-private-key 2.1.1 accepts, so a key Probot can use is never refused.
describe("the App's private key, in every form Probot reads", () => {
  it("accepts PKCS#8 and PKCS#1 PEM, with newlines escaped as \\n, base64-encoded, or on one line", () => {
    for (const pem of [TEST_PRIVATE_KEY, PKCS1]) {
      expect(read({ APP_ID: "7", PRIVATE_KEY: pem })).toEqual({ appId: 7, privateKey: pem });
      expect(read({ APP_ID: "7", PRIVATE_KEY: pem.replace(/\n/g, "\\n") })?.privateKey).toBe(pem);
      expect(read({ APP_ID: "7", PRIVATE_KEY: Buffer.from(pem).toString("base64") })?.privateKey).toBe(pem);
      expect(read({ APP_ID: "7", PRIVATE_KEY: pem.trim().replace(/\n/g, " ") })?.privateKey).toBe(pem.trim());
    }
  });

  it("reads PRIVATE_KEY_PATH, relative to the working directory, and the one .pem file there", () => {
    const dir = emptyDir();
    writeFileSync(join(dir, "app.private-key.pem"), PKCS1);
    expect(read({ APP_ID: "7", PRIVATE_KEY_PATH: "app.private-key.pem" }, dir)?.privateKey).toBe(PKCS1);
    expect(read({ APP_ID: "7" }, dir)?.privateKey).toBe(PKCS1);
    writeFileSync(join(dir, "other.pem"), PKCS1);
    expect(() => read({ APP_ID: "7" }, dir)).toThrow(/more than one \.pem file .*set PRIVATE_KEY_PATH/);
  });

  it("without APP_ID there is no App yet (the setup page), except in production", () => {
    expect(read({})).toBeUndefined();
    expect(() => read({ NODE_ENV: "production" })).toThrow(/^APP_ID is not set: in production/);
  });

  it("names what is wrong: a missing file, an APP_ID that is not a number, a key that is not RSA", () => {
    expect(() => read({ APP_ID: "7", PRIVATE_KEY_PATH: "missing.pem" })).toThrow(/^PRIVATE_KEY_PATH names no file: .*missing\.pem$/);
    expect(() => read({ APP_ID: "my-app", PRIVATE_KEY: PKCS1 })).toThrow('APP_ID must be the GitHub App\'s numeric id (its settings page shows "App ID"), got "my-app"');
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256", privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
    expect(() => read({ APP_ID: "7", PRIVATE_KEY: ec })).toThrow(/^PRIVATE_KEY is a ec key, but a GitHub App's private key is an RSA key/);
  });

  it("never quotes the key in its errors", () => {
    const lines = PKCS1.trim().split("\n");
    const broken = [...lines.slice(0, 10), lines.at(-1)].join("\n"); // cut short
    let message = "";
    try {
      read({ APP_ID: "7", PRIVATE_KEY: broken });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^PRIVATE_KEY is not a valid private key/);
    for (const line of lines.slice(1, 10)) expect(message).not.toContain(line.slice(0, 16));
  });
});
