import { DEFAULT_PRICES_URL, readPriceTable, type PriceTable } from "./fly/index.js";
import { SettingsError } from "./model/errors.js";
import { parseSecretsKey } from "./secrets/index.js";

// Server configuration read from the environment. Probot reads its own variables
// (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, GHE_HOST, PORT, ...); these are ours.
// A bad value stops start-up with a message naming the variable, because a server
// that starts with a typo in its configuration fails later, far from the cause.

export interface Settings {
  flyApiToken?: string;
  flyOrg: string;
  flyRegion: string;
  /** NEON_API_KEY: the key for `database: neon` blocks that name no `api_key_secret`. A secret: never logged. */
  neonApiKey?: string;
  /** NEON_API_URL: Neon's API (tests point it at a fake). */
  neonApiUrl: string;
  /**
   * PREVIEW_DATABASES: the Neon projects (`neon:PROJECT`) and Fly Postgres clusters
   * (`fly_postgres:CLUSTER`) previews may use. Empty: none. A pull request writes its own
   * `.preview.yml`, so without this list it could copy a production project's data into a
   * preview it controls, or attach a user to a production cluster in FLY_ORG.
   */
  previewDatabases: string[];
  flyctlPath: string;
  databaseUrl: string;
  concurrency: number;
  /** Most previews one installation may run at once; undefined: no limit. */
  maxPerInstallation?: number;
  /** How often the reaper sweeps for leaks and expired previews. */
  reapIntervalMs: number;
  /** How long a worker's claim on a preview lasts unrenewed: a dead worker's work waits this long. */
  leaseMs: number;
  /** PREVIEW_MAX_RUN: the longest one deploy may take, start to end, whatever .preview.yml says. */
  maxRunMs: number;
  /** PREVIEW_SECRETS_KEY: encrypts per-repository secrets at rest. */
  secretsKey?: Buffer;
  /** PREVIEW_WRITE_SPACING: the least time between two GitHub writes of one installation, across every process; 0: off. */
  writeSpacingMs: number;
  /** Where replies to commands link for help: the docs/ folder of the operator's copy. */
  docsUrl: string;
  /** METRICS_TOKEN: /metrics answers only requests with `Authorization: Bearer <token>`; undefined: open. */
  metricsToken?: string;
  /** METRICS_PORT: where `fly-preview worker` serves /metrics and /healthz; undefined: it serves nothing. */
  metricsPort?: number;
  /** METRICS_INSTALLATION_LABEL: per-installation series carry the installation id. */
  metricsInstallationLabel: boolean;
  /** PREVIEW_PRICES: the price table cost estimates come from; default prices/fly-prices.json. */
  prices: PriceTable;
}

export { SettingsError };

/** Probot's run() default, which the server keeps; the workers use it too. */
export const DEFAULT_LOG_LEVEL = "info";
export const DEFAULT_DATABASE_URL = "file:./data/fly-preview.db";
/** Where previews run when neither FLY_REGION nor the repository's `region:` says. */
export const DEFAULT_FLY_REGION = "iad";
export const DEFAULT_DOCS_URL = "https://github.com/fly-preview/fly-preview/tree/main/docs";

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new SettingsError(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new SettingsError(`${name} must be a whole number between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function name(env: NodeJS.ProcessEnv, variable: string, fallback: string, pattern: RegExp, hint: string): string {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim();
  if (!pattern.test(value)) throw new SettingsError(`${variable} must be ${hint}, got "${value}"`);
  return value;
}

function databaseUrl(env: NodeJS.ProcessEnv): string {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return DEFAULT_DATABASE_URL;
  if (raw.startsWith("file:") && raw.length > "file:".length) return raw;
  if (/^postgres(ql)?:\/\/\S+$/.test(raw)) return raw;
  throw new SettingsError(
    `DATABASE_URL must be file:PATH (SQLite) or postgres://… (PostgreSQL), got a value starting "${raw.slice(0, 10)}"`,
  );
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

function duration(env: NodeJS.ProcessEnv, variable: string, fallbackMs: number): number {
  const raw = env[variable]?.trim();
  if (!raw) return fallbackMs;
  const match = /^(\d+)(s|m|h)$/.exec(raw);
  if (!match || Number(match[1]) === 0) throw new SettingsError(`${variable} must be a duration such as 30s, 10m or 1h, got "${raw}"`);
  return Number(match[1]) * UNITS[match[2]];
}

/** A duration, or 0 to turn the thing off. */
function durationOrOff(env: NodeJS.ProcessEnv, variable: string, fallbackMs: number): number {
  if (env[variable]?.trim() === "0") return 0;
  try {
    return duration(env, variable, fallbackMs);
  } catch {
    throw new SettingsError(`${variable} must be a duration such as 1s or 2s, or 0 to turn it off, got "${env[variable]?.trim()}"`);
  }
}

function url(env: NodeJS.ProcessEnv, variable: string, fallback: string): string {
  const raw = env[variable]?.trim();
  if (!raw) return fallback;
  if (!/^https?:\/\/\S+$/.test(raw)) throw new SettingsError(`${variable} must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/$/, "");
}

/** An opaque token sent in an HTTP header: printable ASCII, no spaces, long enough not to be guessed. */
function bearerToken(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  // The value is never echoed: a typo'd secret in an error message is still a secret.
  if (!/^[\x21-\x7e]{16,}$/.test(raw)) {
    throw new SettingsError(`${variable} must be at least 16 printable characters with no spaces (e.g. openssl rand -hex 32)`);
  }
  return raw;
}

function flag(env: NodeJS.ProcessEnv, variable: string): boolean {
  const raw = env[variable]?.trim().toLowerCase();
  if (!raw || raw === "0" || raw === "false") return false;
  if (raw === "1" || raw === "true") return true;
  throw new SettingsError(`${variable} must be 1 or 0 (true or false), got "${env[variable]?.trim()}"`);
}

function secretsKey(env: NodeJS.ProcessEnv): Buffer | undefined {
  try {
    return parseSecretsKey(env.PREVIEW_SECRETS_KEY);
  } catch (error) {
    throw new SettingsError((error as Error).message);
  }
}

function prices(env: NodeJS.ProcessEnv): PriceTable {
  const path = env.PREVIEW_PRICES?.trim();
  try {
    return readPriceTable(path || DEFAULT_PRICES_URL);
  } catch (error) {
    // The shipped table failing is a broken install, not the operator's doing.
    if (!path) throw error;
    throw new SettingsError(`PREVIEW_PRICES: ${(error as Error).message} (a JSON price table shaped like prices/fly-prices.json)`);
  }
}

function databaseList(env: NodeJS.ProcessEnv): string[] {
  const items = (env.PREVIEW_DATABASES ?? "").split(/[\s,]+/).filter(Boolean);
  for (const item of items) {
    if (!/^(neon:[a-z0-9-]{1,60}|fly_postgres:[a-z0-9][a-z0-9-]{0,62})$/.test(item)) {
      throw new SettingsError(`PREVIEW_DATABASES: "${item}" is neither neon:PROJECT nor fly_postgres:CLUSTER (a Neon project id, or a Fly Postgres app name)`);
    }
  }
  return items;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const token = env.FLY_API_TOKEN?.trim();
  return {
    flyApiToken: token ? token : undefined,
    flyOrg: name(env, "FLY_ORG", "personal", /^[a-z0-9][a-z0-9-]*$/, "a Fly organization slug such as \"personal\""),
    flyRegion: name(env, "FLY_REGION", DEFAULT_FLY_REGION, /^[a-z]{3}$/, "a three-letter Fly region code such as \"iad\""),
    flyctlPath: env.FLYCTL_PATH?.trim() || "flyctl",
    neonApiKey: env.NEON_API_KEY?.trim() || undefined,
    neonApiUrl: url(env, "NEON_API_URL", "https://console.neon.tech/api/v2"),
    previewDatabases: databaseList(env),
    databaseUrl: databaseUrl(env),
    concurrency: integer(env, "PREVIEW_CONCURRENCY", 2, 1, 64),
    maxPerInstallation: env.PREVIEW_MAX_PER_INSTALLATION?.trim() ? integer(env, "PREVIEW_MAX_PER_INSTALLATION", 0, 1, 100_000) : undefined,
    reapIntervalMs: duration(env, "PREVIEW_REAP_INTERVAL", 10 * 60_000),
    leaseMs: duration(env, "PREVIEW_LEASE", 60_000),
    maxRunMs: duration(env, "PREVIEW_MAX_RUN", 60 * 60_000),
    writeSpacingMs: durationOrOff(env, "PREVIEW_WRITE_SPACING", 1000),
    docsUrl: url(env, "PREVIEW_DOCS_URL", DEFAULT_DOCS_URL),
    secretsKey: secretsKey(env),
    metricsToken: bearerToken(env, "METRICS_TOKEN"),
    metricsPort: env.METRICS_PORT?.trim() ? integer(env, "METRICS_PORT", 0, 1, 65_535) : undefined,
    metricsInstallationLabel: flag(env, "METRICS_INSTALLATION_LABEL"),
    prices: prices(env),
  };
}
