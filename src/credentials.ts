import { createPrivateKey } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Probot } from "probot";
import { SettingsError } from "./settings.js";

// The GitHub App's credentials, checked at start-up: a key Probot cannot sign with
// otherwise starts a "healthy" server whose every webhook and deploy fails later with
// an OpenSSL message far from the cause.

export interface AppCredentials {
  appId: number;
  /** PEM, as Probot will read it. */
  privateKey: string;
}

// A PEM's first and last lines for a label ("RSA PRIVATE KEY" is PKCS#1, "PRIVATE KEY" PKCS#8).
const pemMarkers = (label: string) => [`-----BEGIN ${label}-----`, `-----END ${label}-----`] as const;
const PKCS1 = pemMarkers("RSA PRIVATE KEY");
const PKCS8 = pemMarkers("PRIVATE KEY");
const WHOLE_PEM = "paste the whole .pem file GitHub generated, BEGIN and END lines included (newlines may be written as \\n)";

/**
 * The key Probot will use, found where Probot looks for it and normalized as it does
 * (@probot/get-private-key 2.1.1, node_modules/@probot/get-private-key/dist-src/index.js):
 * PRIVATE_KEY (base64 of the PEM, or the PEM with "\n" escapes or with no newlines),
 * else the file PRIVATE_KEY_PATH (relative to the working directory), else the one
 * *.pem file in the working directory. `source` names where it came from, for errors.
 */
function findPrivateKey(env: NodeJS.ProcessEnv, cwd: string): { pem: string; source: string } | undefined {
  if (env.PRIVATE_KEY) {
    let key = env.PRIVATE_KEY;
    if (Buffer.from(key, "base64").toString("base64") === key) key = Buffer.from(key, "base64").toString();
    key = key.replace(/\\n/g, "\n");
    const markers = [PKCS1, PKCS8].find(([begin, end]) => key.includes(begin) && key.includes(end));
    if (!markers) throw new SettingsError(`PRIVATE_KEY is not a PEM private key: ${WHOLE_PEM}`);
    if (!key.includes("\n")) {
      const [begin, end] = markers;
      const middle = key.slice(begin.length + 1, key.length - end.length - 1);
      key = `${begin}\n${middle.trim().replace(/\s+/g, "\n")}\n${end}`;
    }
    return { pem: key, source: "PRIVATE_KEY" };
  }
  if (env.PRIVATE_KEY_PATH) {
    const path = resolve(cwd, env.PRIVATE_KEY_PATH);
    if (!existsSync(path)) throw new SettingsError(`PRIVATE_KEY_PATH names no file: ${path}`);
    return { pem: readFileSync(path, "utf8"), source: `PRIVATE_KEY_PATH (${path})` };
  }
  const pemFiles = readdirSync(cwd).filter((name) => name.endsWith(".pem"));
  if (pemFiles.length > 1) {
    throw new SettingsError(`more than one .pem file in ${cwd} (${pemFiles.join(", ")}): set PRIVATE_KEY_PATH to the GitHub App's key`);
  }
  if (pemFiles.length === 1) {
    const path = resolve(cwd, pemFiles[0]);
    return { pem: readFileSync(path, "utf8"), source: `the key file ${path}` };
  }
  return undefined;
}

/**
 * APP_ID and the private key, checked: undefined when neither is set (the setup page
 * registers the App); a SettingsError naming the variable when one is missing or the key
 * cannot sign. Messages never quote the key.
 */
export function readAppCredentials(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppCredentials | undefined {
  const rawId = env.APP_ID?.trim();
  if (!rawId) {
    if (env.NODE_ENV === "production") {
      throw new SettingsError(
        "APP_ID is not set: in production (NODE_ENV=production) set the GitHub App's APP_ID, PRIVATE_KEY and WEBHOOK_SECRET; to register an App, start once without NODE_ENV=production and open the setup page",
      );
    }
    return undefined;
  }
  if (!/^\d+$/.test(rawId) || Number(rawId) === 0) {
    throw new SettingsError(`APP_ID must be the GitHub App's numeric id (its settings page shows "App ID"), got "${rawId}"`);
  }
  const found = findPrivateKey(env, cwd);
  if (!found) {
    throw new SettingsError(
      `APP_ID is set but PRIVATE_KEY (or PRIVATE_KEY_PATH) is not: set it to a private key of GitHub App ${rawId} (its settings page, "Private keys")`,
    );
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(found.pem).asymmetricKeyType;
  } catch (error) {
    // OpenSSL's reason ("DECODER routines::unsupported") names no part of the key.
    throw new SettingsError(`${found.source} is not a valid private key (${(error as Error).message}): ${WHOLE_PEM}`);
  }
  // GitHub signs App tokens with RS256 only.
  if (type !== "rsa") throw new SettingsError(`${found.source} is a ${type} key, but a GitHub App's private key is an RSA key: ${WHOLE_PEM}`);
  return { appId: Number(rawId), privateKey: found.pem };
}

interface Log {
  warn(obj: object, msg: string): void;
}

/**
 * Asks GitHub whether it accepts the App's key (GET /app, "Get the authenticated app",
 * authenticated as the App). A key GitHub rejects answers 401: nothing the App does can
 * work then, so start-up stops with a SettingsError instead of every run retrying.
 * GitHub out of reach is not a configuration error: a warning, and start-up goes on.
 */
export async function checkAppWithGitHub(app: Probot, log: Log): Promise<void> {
  const octokit = await app.auth();
  try {
    // No retries: one answer is enough, and start-up should not wait out backoffs.
    await octokit.request("GET /app", { request: { retries: 0, signal: AbortSignal.timeout(10_000) } });
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 401 || status === 404) {
      throw new SettingsError(
        `GitHub rejected the App's credentials (${status} on GET /app: ${(error as Error).message}): check that APP_ID is the App's id and PRIVATE_KEY one of its current private keys`,
      );
    }
    log.warn({ error: (error as Error).message }, "could not ask GitHub about the App's credentials; starting anyway");
  }
}
