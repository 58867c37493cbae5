import { ProbotOctokit } from "probot";
import { readAppCredentials, type AppCredentials } from "../credentials.js";
import { FlyError, Flyctl } from "../fly/index.js";
import { PINNED_FLYCTL_VERSION } from "../fly/flyctl.js";
import { SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import { PROBOT_WEBHOOK_PATH, webhookPaths } from "../server/webhooks.js";
import { inspectDatabase, type DatabaseInspection } from "../store/store.js";
import { CliError, type CliCommand } from "./command.js";
import { describeDatabase } from "./migrate.js";

const GITHUB_TIMEOUT_MS = 30_000;

interface Report {
  pass(text: string): void;
  fail(text: string, fix: string): void;
  /** Worth a look, but not a failure: doctor cannot know every setup. */
  warn(text: string, fix: string): void;
}

export const doctor: CliCommand = {
  name: "doctor",
  args: [],
  flags: [],
  summary: "check the settings, the GitHub App, the database, flyctl and the secrets key",
  details:
    "Each check prints ✓, or ✗ with what to fix; ⚠ marks what may be wrong (a webhook URL whose path is not the one served) and does not fail. " +
    "Changes nothing: a database that needs migrating is reported, not migrated. Exits 0 only when no check failed.",
  async run(_args, ctx) {
    let failed = 0;
    let warned = 0;
    let passed = 0;
    const report: Report = {
      pass: (text) => {
        passed++;
        ctx.print(`✓ ${text}`);
      },
      fail: (text, fix) => {
        failed++;
        ctx.print(`✗ ${text} — fix: ${fix}`);
      },
      warn: (text, fix) => {
        warned++;
        ctx.print(`⚠ ${text} — fix: ${fix}`);
      },
    };

    let settings: Settings | undefined;
    try {
      settings = ctx.settings();
      report.pass("the settings parse");
    } catch (error) {
      report.fail(`the settings do not parse: ${(error as Error).message}`, "correct that variable");
    }
    await checkGitHub(ctx.env, report);
    if (ctx.env.WEBHOOK_SECRET) report.pass("WEBHOOK_SECRET is set");
    else report.fail("WEBHOOK_SECRET is not set, so GitHub's deliveries cannot be verified", "set it to the webhook secret entered in the App's settings on GitHub");

    if (settings) {
      const database = await checkDatabase(settings, report);
      await checkFlyctl(settings, report);
      await checkSecretsKey(settings, database, report);
      await database?.close();
    } else {
      for (const what of ["the database", "flyctl", "the secrets key"]) report.fail(`${what} not checked`, "make the settings parse first");
    }

    const warnings = warned > 0 ? ` (${warned} warning${warned === 1 ? "" : "s"})` : "";
    if (failed > 0) throw new CliError(`${failed} check${failed === 1 ? "" : "s"} failed${warnings}`);
    ctx.print(`all ${passed + warned} checks passed${warnings}`);
  },
};

async function checkGitHub(env: NodeJS.ProcessEnv, report: Report): Promise<void> {
  if (!env.APP_ID?.trim()) {
    report.fail("APP_ID is not set", "set it to the App's id (its settings page on GitHub), or start the server without it once to register the App from app.yml");
    return;
  }
  // The server's own reader (src/credentials.ts): the key is judged exactly as start-up judges it.
  let credentials: AppCredentials | undefined;
  try {
    credentials = readAppCredentials(env);
  } catch (error) {
    report.fail((error as Error).message, "set PRIVATE_KEY to the whole .pem file the App's settings page gave (BEGIN and END lines included), or PRIVATE_KEY_PATH to that file");
    return;
  }
  const { appId, privateKey } = credentials!;
  report.pass("the private key parses");

  const baseUrl = env.GHE_HOST ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3` : "https://api.github.com";
  const octokit = new ProbotOctokit({ auth: { appId, privateKey }, baseUrl, retry: { enabled: false }, throttle: { enabled: false } });
  const request = { signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS) };
  try {
    const { data: app } = await octokit.request("GET /app", { request });
    report.pass(`GitHub knows the App ${app?.name ?? appId} (${app?.html_url ?? baseUrl})`);
    const { data: hook } = await octokit.request("GET /app/hook/config", { request });
    checkWebhookUrl(hook.url, env, report);
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 401) {
      report.fail(
        `GitHub rejects the private key for APP_ID ${appId}: ${(error as Error).message}`,
        "check that APP_ID is this App's id, or generate a private key on the App's settings page and set PRIVATE_KEY to it",
      );
    } else {
      report.fail(`GitHub could not be asked about the App at ${baseUrl}: ${(error as Error).message}`, "check the network, and GHE_HOST and GHE_PROTOCOL on GitHub Enterprise Server");
    }
  }
}

function checkWebhookUrl(url: string | undefined, env: NodeJS.ProcessEnv, report: Report): void {
  // The root is served too (src/server/webhooks.ts), but WEBHOOK_PATH is what to advise.
  const served = env.WEBHOOK_PATH || PROBOT_WEBHOOK_PATH;
  if (!url) {
    report.fail("the App has no webhook URL, so GitHub sends this server nothing", `set it on the App's settings page to this server's address followed by ${served}`);
    return;
  }
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    report.fail(`the App's webhook URL "${url}" is not a URL`, `set it on the App's settings page to this server's address followed by ${served}`);
    return;
  }
  const trimmed = (p: string) => p.replace(/\/+$/, "") || "/";
  if (!webhookPaths(env).some((taken) => trimmed(taken) === trimmed(path))) {
    report.warn(
      `webhooks go to ${url}, but this server takes them at ${served}`,
      `change the App's webhook URL to end in ${served} (or set WEBHOOK_PATH=${path}); ignore this behind a proxy that rewrites the path`,
    );
    return;
  }
  report.pass(`webhooks go to ${url}`);
}

async function checkDatabase(settings: Settings, report: Report): Promise<DatabaseInspection | undefined> {
  const where = describeDatabase(settings.databaseUrl);
  let database: DatabaseInspection;
  try {
    database = await inspectDatabase(settings.databaseUrl);
  } catch (error) {
    report.fail(
      `the database cannot be opened (${where}): ${withoutPassword((error as Error).message, settings.databaseUrl)}`,
      "check DATABASE_URL (the Docker image's is file:/data/fly-preview.db, on the volume) and that the database is running; the server creates a SQLite file at start-up",
    );
    return undefined;
  }
  if (database.pending.length > 0) {
    report.fail(
      `the database (${where}) has ${database.pending.length} migration${database.pending.length === 1 ? "" : "s"} to run: ${database.pending.join(", ")}`,
      "run `fly-preview migrate`, or start the server, which migrates at start-up",
    );
  } else {
    report.pass(`the database is reachable and up to date (${where})`);
  }
  return database;
}

/** A driver's error may quote the connection string; its password never leaves. */
function withoutPassword(message: string, url: string): string {
  const password = url.startsWith("postgres") ? decodeURIComponent(new URL(url).password) : "";
  return password ? message.split(password).join("***") : message;
}

async function checkFlyctl(settings: Settings, report: Report): Promise<void> {
  const path = settings.flyctlPath;
  const flyctl = new Flyctl({ path, token: settings.flyApiToken, org: settings.flyOrg, retry: { attempts: 1, baseDelayMs: 0 } });
  const install = `install flyctl v${PINNED_FLYCTL_VERSION} and set FLYCTL_PATH to it (the Docker image has it at /usr/local/bin/flyctl)`;
  let version: string;
  try {
    version = await flyctl.version();
  } catch (error) {
    report.fail(`${(error as Error).message.split("; ")[0]} (FLYCTL_PATH)`, install);
    report.fail("the Fly token not checked", "make flyctl run first");
    return;
  }
  if (version === PINNED_FLYCTL_VERSION) report.pass(`flyctl v${version} at ${path}, the version fly-preview is pinned to`);
  else report.fail(`flyctl at ${path} is v${version}, but fly-preview is pinned to v${PINNED_FLYCTL_VERSION}, whose arguments and messages it relies on`, install);

  const newToken = `create a token with \`flyctl tokens create org -o ${settings.flyOrg}\` and set FLY_API_TOKEN to it`;
  if (!settings.flyApiToken) {
    report.fail("FLY_API_TOKEN is not set", newToken);
    return;
  }
  try {
    const orgs = await flyctl.organizations();
    if (settings.flyOrg in orgs) {
      report.pass(`the Fly token can use the organization ${settings.flyOrg} (${orgs[settings.flyOrg]})`);
    } else {
      const seen = Object.keys(orgs);
      report.fail(
        `the Fly token cannot see the organization "${settings.flyOrg}" (FLY_ORG); it sees ${seen.length > 0 ? seen.join(", ") : "none"}`,
        `set FLY_ORG to the organization previews belong in, or ${newToken}`,
      );
    }
  } catch (error) {
    if (error instanceof FlyError && error.kind === "auth") report.fail(`Fly.io rejects FLY_API_TOKEN: ${error.detail ?? error.message}`, newToken);
    else report.fail(`\`flyctl orgs list\` failed: ${(error as Error).message}`, "check the network and that Fly.io is up (status.flyio.net)");
  }
}

async function checkSecretsKey(settings: Settings, database: DatabaseInspection | undefined, report: Report): Promise<void> {
  if (!database || database.pending.length > 0) {
    report.fail("the secrets key not checked", "make the database reachable and up to date first");
    return;
  }
  try {
    await new SecretStore(database.db, settings.secretsKey).check();
  } catch (error) {
    report.fail((error as Error).message, "set PREVIEW_SECRETS_KEY to the key the stored secrets were encrypted with");
    return;
  }
  const stored = await database.db.selectFrom("secrets").select("name").limit(1).executeTakeFirst();
  if (stored) report.pass("PREVIEW_SECRETS_KEY matches the key the stored secrets were encrypted with");
  else if (settings.secretsKey) report.pass("PREVIEW_SECRETS_KEY is set; no secrets are stored yet");
  else report.pass("no secrets are stored (PREVIEW_SECRETS_KEY, needed to store one, is not set)");
}
