import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_PRICES_URL, readPriceTable } from "../src/fly/index.js";
import { readSettings } from "../src/settings.js";

describe("server settings", () => {
  it("has working defaults with no configuration", () => {
    expect(readSettings({})).toEqual({
      flyApiToken: undefined,
      flyOrg: "personal",
      flyRegion: "iad",
      neonApiKey: undefined,
      neonApiUrl: "https://console.neon.tech/api/v2",
      previewDatabases: [],
      flyctlPath: "flyctl",
      databaseUrl: "file:./data/fly-preview.db",
      concurrency: 2,
      maxPerInstallation: undefined,
      reapIntervalMs: 600_000,
      leaseMs: 60_000,
      maxRunMs: 3_600_000,
      writeSpacingMs: 1000,
      docsUrl: "https://github.com/fly-preview/fly-preview/tree/main/docs",
      secretsKey: undefined,
      metricsToken: undefined,
      metricsPort: undefined,
      metricsInstallationLabel: false,
      prices: readPriceTable(DEFAULT_PRICES_URL),
    });
  });

  it("reads every variable", () => {
    const settings = readSettings({
      FLY_API_TOKEN: "tok",
      FLY_ORG: "acme",
      FLY_REGION: "ams",
      FLYCTL_PATH: "/opt/flyctl",
      DATABASE_URL: "postgres://fly@db.internal:5432/previews",
      PREVIEW_CONCURRENCY: "4",
      PREVIEW_DOCS_URL: "https://git.acme.dev/tools/fly-preview/docs/",
      PREVIEW_MAX_PER_INSTALLATION: "20",
      PREVIEW_REAP_INTERVAL: "5m",
      PREVIEW_LEASE: "30s",
      PREVIEW_MAX_RUN: "90m",
      PREVIEW_SECRETS_KEY: "ab".repeat(32),
      PREVIEW_WRITE_SPACING: "2s",
      METRICS_TOKEN: "0123456789abcdef0123",
      METRICS_PORT: "9091",
      METRICS_INSTALLATION_LABEL: "true",
      NEON_API_KEY: "neon-key",
      NEON_API_URL: "http://127.0.0.1:9999/api/v2",
      PREVIEW_DATABASES: "neon:proud-fog-123456, fly_postgres:acme-preview-db",
      PREVIEW_PRICES: fileURLToPath(DEFAULT_PRICES_URL),
    });
    expect(settings).toEqual({
      flyApiToken: "tok",
      flyOrg: "acme",
      flyRegion: "ams",
      neonApiKey: "neon-key",
      neonApiUrl: "http://127.0.0.1:9999/api/v2",
      previewDatabases: ["neon:proud-fog-123456", "fly_postgres:acme-preview-db"],
      flyctlPath: "/opt/flyctl",
      databaseUrl: "postgres://fly@db.internal:5432/previews",
      concurrency: 4,
      maxPerInstallation: 20,
      reapIntervalMs: 300_000,
      leaseMs: 30_000,
      maxRunMs: 5_400_000,
      writeSpacingMs: 2000,
      docsUrl: "https://git.acme.dev/tools/fly-preview/docs",
      secretsKey: Buffer.from("ab".repeat(32), "hex"),
      metricsToken: "0123456789abcdef0123",
      metricsPort: 9091,
      metricsInstallationLabel: true,
      prices: readPriceTable(DEFAULT_PRICES_URL),
    });
  });

  it("turns the shared GitHub write pace off with PREVIEW_WRITE_SPACING=0", () => {
    expect(readSettings({ PREVIEW_WRITE_SPACING: "0" }).writeSpacingMs).toBe(0);
  });

  it.each([
    [{ PREVIEW_CONCURRENCY: "abc" }, /PREVIEW_CONCURRENCY must be a whole number/],
    [{ PREVIEW_CONCURRENCY: "0" }, /PREVIEW_CONCURRENCY must be a whole number between 1 and 64, got 0/],
    [{ FLY_REGION: "Frankfurt" }, /FLY_REGION must be a three-letter Fly region code/],
    [{ FLY_ORG: "Acme Inc" }, /FLY_ORG must be a Fly organization slug/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL must be file:PATH \(SQLite\) or postgres:\/\/… \(PostgreSQL\)/],
    [{ PREVIEW_DOCS_URL: "docs" }, /PREVIEW_DOCS_URL must be an http\(s\) URL/],
    [{ PREVIEW_MAX_PER_INSTALLATION: "many" }, /PREVIEW_MAX_PER_INSTALLATION must be a whole number/],
    [{ PREVIEW_REAP_INTERVAL: "10 minutes" }, /PREVIEW_REAP_INTERVAL must be a duration such as 30s, 10m or 1h/],
    [{ PREVIEW_MAX_RUN: "0s" }, /PREVIEW_MAX_RUN must be a duration such as 30s, 10m or 1h, got "0s"/],
    [{ PREVIEW_SECRETS_KEY: "short" }, /PREVIEW_SECRETS_KEY/],
    [{ PREVIEW_WRITE_SPACING: "500ms" }, /PREVIEW_WRITE_SPACING must be a duration such as 1s or 2s, or 0 to turn it off, got "500ms"/],
    [{ METRICS_TOKEN: "has a space in it, sadly" }, /METRICS_TOKEN must be at least 16 printable characters with no spaces/],
    [{ METRICS_PORT: "99999" }, /METRICS_PORT must be a whole number between 1 and 65535, got 99999/],
    [{ METRICS_INSTALLATION_LABEL: "yes" }, /METRICS_INSTALLATION_LABEL must be 1 or 0 \(true or false\), got "yes"/],
  ])("stops at a bad value and names the variable: %o", (env, message) => {
    expect(() => readSettings(env)).toThrow(message);
  });
});

describe("PREVIEW_DATABASES", () => {
  it("names the entry that is neither neon:PROJECT nor fly_postgres:CLUSTER", () => {
    expect(() => readSettings({ PREVIEW_DATABASES: "neon:proud-fog-123456 postgres://prod" })).toThrow(
      'PREVIEW_DATABASES: "postgres://prod" is neither neon:PROJECT nor fly_postgres:CLUSTER',
    );
  });
});
