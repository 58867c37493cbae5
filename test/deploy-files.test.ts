import { accessSync, constants, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { Probot } from "probot";
import { parse as parseYaml } from "yaml";
import { flyPreview } from "../src/app.js";
import { handledEvents } from "../src/handlers/outcomes.js";
import { DEFAULT_KILL_GRACE_MS, PINNED_FLYCTL_VERSION } from "../src/fly/flyctl.js";
import { readSettings } from "../src/settings.js";
import type { Store } from "../src/store/store.js";

const root = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

/**
 * The events (without their action) the app's handlers take: the app function, loaded
 * as the server loads it, on a Probot that only takes its one hook.
 */
async function registeredEvents(): Promise<string[]> {
  const recorder = {
    onAny: () => {},
    getNodeMiddleware: async () => () => false,
    log: { info() {}, warn() {}, error() {}, child: () => recorder.log },
  };
  const app = flyPreview({ settings: readSettings({}), store: {} as Store, worker: false });
  await app(recorder as unknown as Probot, { cwd: root, addHandler: () => {} });
  return [...new Set(handledEvents(recorder as unknown as Probot).map((event) => event.split(".")[0]))].sort();
}

describe("fly.toml, fly-preview's own deployment", () => {
  const config = parseToml(read("fly.toml")) as {
    app: string;
    primary_region: string;
    build: { dockerfile: string };
    env: Record<string, string>;
    mounts: { source: string; destination: string };
    http_service: {
      internal_port: number;
      force_https: boolean;
      auto_stop_machines: string;
      min_machines_running: number;
      checks: { method: string; path: string }[];
    };
    vm: { memory: string; cpu_kind: string; cpus: number }[];
    kill_signal: string;
    kill_timeout: string;
  };

  it("builds the Dockerfile into an app operators rename", () => {
    expect(config.app).toBe("fly-preview");
    expect(config.primary_region).toBe("iad");
    expect(config.build.dockerfile).toBe("Dockerfile");
  });

  it("keeps the database on the mounted volume", () => {
    expect(config.env.DATABASE_URL).toBe("file:/data/fly-preview.db");
    expect(config.mounts).toEqual({ source: "fly_preview_data", destination: "/data" });
    expect(path.posix.dirname(config.env.DATABASE_URL!.slice("file:".length))).toBe(config.mounts.destination);
  });

  it("routes traffic to the port the app listens on, on every interface", () => {
    expect(config.env.HOST).toBe("0.0.0.0");
    expect(config.http_service.internal_port).toBe(Number(config.env.PORT));
    expect(config.http_service.internal_port).toBe(3000);
    expect(config.http_service.force_https).toBe(true);
  });

  it("keeps one machine running for the reconciler, and checks its health", () => {
    expect(config.http_service.auto_stop_machines).toBe("off");
    expect(config.http_service.min_machines_running).toBe(1);
    expect(config.http_service.checks).toEqual([expect.objectContaining({ method: "GET", path: "/healthz" })]);
  });

  it("stops the machine with SIGTERM and waits long enough for flyctl to stop and leases to be released", () => {
    expect(config.kill_signal).toBe("SIGTERM");
    const match = /^(\d+)s$/.exec(config.kill_timeout);
    expect(match).not.toBeNull();
    // flyctl gets the grace before SIGKILL, then the leases are written: a few seconds more.
    expect(Number(match![1]) * 1000).toBeGreaterThanOrEqual(DEFAULT_KILL_GRACE_MS + 10_000);
  });

  it("asks for a small shared machine", () => {
    expect(config.vm).toEqual([{ memory: "512mb", cpu_kind: "shared", cpus: 1 }]);
  });
});

describe("app.yml, the manifest of the GitHub App", () => {
  const manifest = parseYaml(read("app.yml")) as {
    name: string;
    public: boolean;
    default_events: string[];
    default_permissions: Record<string, string>;
  };

  it("subscribes to exactly the events the app handles", async () => {
    // installation and installation_repositories arrive without subscribing, and GitHub
    // rejects a manifest that lists them.
    const handled = (await registeredEvents()).filter((event) => event !== "installation" && event !== "installation_repositories");
    expect(handled.length).toBeGreaterThan(0);
    expect([...manifest.default_events].sort()).toEqual(handled);
  });

  it("asks for exactly the permissions the app needs", () => {
    expect(manifest.default_permissions).toEqual({
      metadata: "read",
      contents: "read",
      pull_requests: "write",
      issues: "write",
      checks: "write",
      deployments: "write",
    });
  });

  it("registers a private App named fly-preview", () => {
    expect(manifest.name).toBe("fly-preview");
    expect(manifest.public).toBe(false);
  });

  it("leaves the webhook URL to the setup page: the server's root, or the smee channel of WEBHOOK_PROXY_URL", () => {
    // Probot spreads app.yml over the manifest it builds (probot/lib/manifest-creation.js):
    // a hook_attributes here would replace both with one fixed URL.
    expect(manifest).not.toHaveProperty("hook_attributes");
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");

  it("builds and runs on node:22-slim", () => {
    expect(dockerfile.match(/^FROM node:22-slim\b/gm)).toHaveLength(2);
  });

  it("pins flyctl to a released version", () => {
    expect(dockerfile).toMatch(/^COPY --from=flyio\/flyctl:v\d+\.\d+\.\d+ \/flyctl \/usr\/local\/bin\/flyctl$/m);
    expect(dockerfile).not.toMatch(/flyio\/flyctl:latest|flyio\/flyctl(?!:)/);
  });

  it("pins the flyctl version the server checks for at start-up", () => {
    expect(dockerfile).toContain(`COPY --from=flyio/flyctl:v${PINNED_FLYCTL_VERSION} /flyctl`);
  });

  it("runs as a user other than root", () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
  });

  it("listens on every interface and checks /healthz", () => {
    expect(dockerfile).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(dockerfile).toMatch(/^HEALTHCHECK\b[^\n]*(\\\n[^\n]*)*\/healthz/m);
  });

  it("pins the flyctl the driver and `fly-preview doctor` expect", () => {
    expect(dockerfile).toContain(`COPY --from=flyio/flyctl:v${PINNED_FLYCTL_VERSION} /flyctl /usr/local/bin/flyctl`);
  });

  it("puts the operator CLI on PATH as fly-preview, runnable through its shebang", () => {
    expect(dockerfile).toMatch(/^RUN chmod \+x dist\/cli\/main\.js && ln -s \/app\/dist\/cli\/main\.js \/usr\/local\/bin\/fly-preview$/m);
    expect(read("src/cli/main.ts").startsWith("#!/usr/bin/env node\n")).toBe(true);
    // package.json's bin is for a checkout (`npx fly-preview`, test/validate.test.ts): the image links the compiled CLI itself.
    expect(JSON.parse(read("package.json")).bin).toEqual({ "fly-preview": "bin/fly-preview.js" });
    expect(read("bin/fly-preview.js").startsWith("#!/usr/bin/env node\n")).toBe(true);
    // Linked as root, before the image drops to its user.
    expect(dockerfile.indexOf("/usr/local/bin/fly-preview")).toBeLessThan(dockerfile.search(/^USER /m));
  });

  it("starts the compiled app", () => {
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
  });
});

describe(".ci/run", () => {
  it("is an executable script that type-checks and runs the tests", () => {
    const script = read(".ci/run");
    expect(() => accessSync(path.join(root, ".ci/run"), constants.X_OK)).not.toThrow();
    expect(script).toMatch(/^set -euo pipefail$/m);
    expect(script).toMatch(/^npm run typecheck$/m);
    expect(script).toMatch(/^npm test$/m);
  });
});
