import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { keepShellValues, loadDotEnv } from "../src/env.js";

describe(".env loading", () => {
  it("adds what the shell did not set, and a shell variable wins, also after Probot assigns the file again", () => {
    const cwd = mkdtempSync(join(tmpdir(), "fly-preview-dotenv-"));
    writeFileSync(join(cwd, ".env"), 'FLY_ORG=from-file\nFLY_REGION=ams\nPRIVATE_KEY="-----BEGIN\\nline"\n');
    const env: NodeJS.ProcessEnv = { FLY_REGION: "iad" };
    const { shadowed } = loadDotEnv(env, cwd);
    expect(env).toEqual({ FLY_ORG: "from-file", FLY_REGION: "iad", PRIVATE_KEY: "-----BEGIN\nline" });

    // Probot 14's run(): Object.assign(process.env, parseEnv(.env)).
    Object.assign(env, { FLY_ORG: "from-file", FLY_REGION: "ams" });
    keepShellValues(shadowed, env);
    expect(env.FLY_REGION).toBe("iad");
  });

  it("is no error when there is no .env", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(loadDotEnv(env, mkdtempSync(join(tmpdir(), "fly-preview-dotenv-")))).toEqual({ shadowed: {} });
    expect(env).toEqual({});
  });
});
