import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { renderFlyToml, type FlyTomlInput } from "../src/fly/index.js";

const input: FlyTomlInput = {
  app: "pr-42-acme-web",
  region: "iad",
  dockerfile: "Dockerfile",
  port: 8080,
  memory: "512mb",
  cpus: 1,
  cpuKind: "shared",
};

describe("the fly.toml a preview deploys with", () => {
  it("has the documented shape", () => {
    expect(renderFlyToml(input)).toMatchInlineSnapshot(`
      "app = "pr-42-acme-web"
      primary_region = "iad"
      [build]
        dockerfile = "Dockerfile"
      [env]
        PREVIEW = "true"
      [http_service]
        internal_port = 8080
        force_https = true
        auto_stop_machines = "stop"
        auto_start_machines = true
        min_machines_running = 0
      [[vm]]
        memory = "512mb"
        cpu_kind = "shared"
        cpus = 1
      "
    `);
  });

  it("adds the configured env vars after PREVIEW, quoting values safely", () => {
    const toml = renderFlyToml({ ...input, env: { NODE_ENV: "production", MOTD: 'say "hi"\nbye' } });
    expect(parse(toml).env).toEqual({ PREVIEW: "true", NODE_ENV: "production", MOTD: 'say "hi"\nbye' });
  });

  it("starts from the repository's fly.toml but controls what a preview needs", () => {
    const base = `
app = "acme-web-production"
primary_region = "ams"
kill_signal = "SIGINT"

[build]
  image = "registry.fly.io/acme-web:latest"
  dockerfile = "deploy/Dockerfile"
  [build.args]
    NODE_VERSION = "20"

[deploy]
  release_command = "npm run migrate"

[env]
  LOG_LEVEL = "debug"
  PREVIEW = "false"

[http_service]
  internal_port = 3000
  force_https = false
  min_machines_running = 2
  [[http_service.checks]]
    path = "/healthz"
    interval = "15s"

[[services]]
  internal_port = 3000
  protocol = "tcp"

[mounts]
  source = "data"
  destination = "/data"

[[vm]]
  size = "performance-2x"
`;
    const config = parse(renderFlyToml({ ...input, env: { FEATURE_X: "on" }, base }));

    expect(config).toEqual({
      app: "pr-42-acme-web",
      primary_region: "iad",
      kill_signal: "SIGINT",
      build: { dockerfile: "Dockerfile", args: { NODE_VERSION: "20" } },
      deploy: { release_command: "npm run migrate" },
      env: { LOG_LEVEL: "debug", PREVIEW: "true", FEATURE_X: "on" },
      http_service: {
        internal_port: 8080,
        force_https: true,
        auto_stop_machines: "stop",
        auto_start_machines: true,
        min_machines_running: 0,
        checks: [{ path: "/healthz", interval: "15s" }],
      },
      vm: [{ memory: "512mb", cpu_kind: "shared", cpus: 1 }],
    });
  });

  it("names the line when the repository's fly.toml is not valid TOML", () => {
    expect(() => renderFlyToml({ ...input, base: 'app = "x"\n[env]\nKEY = \n' })).toThrow(
      /^The repository's fly\.toml is not valid TOML: .* \(line 3, column \d+\)$/,
    );
  });

  it("explains a section written as something other than a table", () => {
    expect(() => renderFlyToml({ ...input, base: 'env = "PRODUCTION"\n' })).toThrow(
      `The repository's fly.toml has "env" that is not a table; write it as [env]`,
    );
  });
});
