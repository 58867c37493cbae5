import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parsePreviewConfig } from "../src/config/index.js";
import { flyTomlProblems, FlyTomlRefused, renderFlyToml, type FlyTomlInput } from "../src/fly/index.js";
import { flyTomlFor, goDuration } from "../src/preview/fly-config.js";

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
    expect(flyTomlProblems('app = "x"\n[env]\nKEY = \n')).toEqual([
      { path: "", message: expect.stringMatching(/^not valid TOML: /), line: 3, column: expect.any(Number) },
    ]);
    expect(() => renderFlyToml({ ...input, base: 'app = "x"\n[env]\nKEY = \n' })).toThrow(/^line 3: not valid TOML: /);
  });

  it("explains a section written as something other than a table", () => {
    expect(flyTomlProblems('kill_signal = "SIGINT"\nenv = "PRODUCTION"\n')).toEqual([
      { path: "env", message: '"env" must be a table; write it as [env]', line: 2, column: 1 },
    ]);
    expect(() => renderFlyToml({ ...input, base: 'env = "PRODUCTION"\n' })).toThrow(FlyTomlRefused);
  });
});

describe("what a preview keeps of the repository's fly.toml", () => {
  it("refuses [[files]] local_path, which would upload a file of the server, on its line", () => {
    const base = [
      'app = "acme-web"',
      "",
      "[[files]]",
      '  guest_path = "/etc/motd"',
      '  raw_value = "hello"',
      "",
      "[[files]]",
      '  guest_path = "/app/env"',
      '  local_path = "/proc/self/environ"',
      "",
    ].join("\n");
    expect(flyTomlProblems(base, "deploy/fly.toml")).toEqual([
      {
        path: "files[1].local_path",
        message: expect.stringMatching(/^\[\[files\]\] local_path = "\/proc\/self\/environ" makes flyctl upload that file from the disk of the fly-preview server/),
        line: 9,
        column: 3,
      },
    ]);
    expect(() => renderFlyToml({ ...input, base })).toThrow(FlyTomlRefused);
  });

  it("finds local_path however the fly.toml writes it", () => {
    expect(flyTomlProblems('files = [{ guest_path = "/x", local_path = "/data/fly-preview.db" }]\n')).toMatchObject([
      { path: "files[0].local_path", line: 1 },
    ]);
    const multiline = 'motd = """\n[[files]]\nlocal_path = "not a key"\n"""\n\n[[files]]\nguest_path = "/x"\n"local_path" = "/etc/passwd"\n';
    expect(flyTomlProblems(multiline)).toMatchObject([{ path: "files[0].local_path", line: 8 }]);
  });

  it.each([
    ["[build] dockerfile outside the repository", '[build]\ndockerfile = "../../../proc/self/environ"\n', "build.dockerfile", 2],
    ["[build] dockerfile as an absolute path", '[build]\n  dockerfile = "/etc/passwd"\n', "build.dockerfile", 2],
    ["[build] ignorefile outside the repository", 'build.ignorefile = "../../.dockerignore"\n', "build.ignorefile", 1],
    ["[build.compose], whose volumes are read from the server", '[build]\nargs = { A = "1" }\n\n[build.compose]\nfile = "compose.yml"\n', "build.compose", 4],
    ["machine_config, whose files are read from the server", 'machine_config = "/srv/machine.json"\n', "machine_config", 1],
    ["[experimental] machine_config", '[experimental]\ncmd = ["x"]\nmachine_config = \'{"files":[{"guest_path":"/a","local_path":"/proc/self/environ"}]}\'\n', "experimental.machine_config", 3],
    ["[[statics]] with a relative guest_path, uploaded from the server's disk", '[[statics]]\nguest_path = "/app/public"\nurl_prefix = "/static"\n[[statics]]\nguest_path = "../../../data"\nurl_prefix = "/"\n', "statics[1].guest_path", 5],
  ])("refuses %s", (_, base, path, line) => {
    // deploy/fly.toml: two levels of "../" from there leave the repository.
    expect(flyTomlProblems(base, "deploy/fly.toml")).toMatchObject([{ path, line }]);
    expect(() => renderFlyToml({ ...input, base, basePath: "deploy/fly.toml" })).toThrow(FlyTomlRefused);
  });

  it("keeps what a preview can use and drops what it cannot", () => {
    const base = `
kill_signal = "SIGTERM"
kill_timeout = "30s"
swap_size_mb = 512
console_command = "/app/bin/rails console"
host_dedication_id = "dedicated-1"
machine_checks = [{ image = "curlimages/curl" }]
unknown_key = true

[experimental]
  cmd = ["web"]
  enable_consul = true

[build]
  dockerfile = "../Dockerfile.prod"
  ignorefile = "../.dockerignore.prod"
  build-target = "runtime"
  builtin = "node"

[processes]
  app = "npm start"

[[files]]
  guest_path = "/app/motd"
  raw_value = "aGk="

[[files]]
  guest_path = "/app/key"
  secret_name = "KEY"

[[statics]]
  guest_path = "/app/public"
  url_prefix = "/static/"

[checks.alive]
  type = "tcp"
  port = 8080

[[restart]]
  policy = "never"

[[metrics]]
  port = 9091
  path = "/metrics"
`;
    expect(flyTomlProblems(base, "deploy/fly.toml")).toEqual([]);
    const config = parse(renderFlyToml({ ...input, base, basePath: "deploy/fly.toml" }));
    expect(config).toEqual({
      app: "pr-42-acme-web",
      primary_region: "iad",
      kill_signal: "SIGTERM",
      kill_timeout: "30s",
      swap_size_mb: 512,
      console_command: "/app/bin/rails console",
      experimental: { cmd: ["web"] },
      // The generated fly.toml sits at the repository's root: paths follow it there.
      build: { dockerfile: "Dockerfile", ignorefile: ".dockerignore.prod", "build-target": "runtime" },
      env: { PREVIEW: "true" },
      processes: { app: "npm start" },
      files: [
        { guest_path: "/app/motd", raw_value: "aGk=" },
        { guest_path: "/app/key", secret_name: "KEY" },
      ],
      statics: [{ guest_path: "/app/public", url_prefix: "/static/" }],
      checks: { alive: { type: "tcp", port: 8080 } },
      restart: [{ policy: "never" }],
      metrics: [{ port: 9091, path: "/metrics" }],
      http_service: {
        internal_port: 8080,
        force_https: true,
        auto_stop_machines: "stop",
        auto_start_machines: true,
        min_machines_running: 0,
      },
      vm: [{ memory: "512mb", cpu_kind: "shared", cpus: 1 }],
    });
  });

  it("reports every problem at once, in the order of the file", () => {
    const base = '[[files]]\nguest_path = "/a"\nlocal_path = "/proc/self/environ"\n\n[build.compose]\n\n[[files]]\nguest_path = "/b"\nlocal_path = "/etc/shadow"\n';
    expect(flyTomlProblems(base).map((p) => [p.path, p.line])).toEqual([
      ["files[0].local_path", 3],
      ["build.compose", 5],
      ["files[1].local_path", 9],
    ]);
  });
});

describe("hooks.release in the generated fly.toml", () => {
  const base = '[deploy]\n  release_command = "npm run migrate"\n  strategy = "rolling"\n  release_command_timeout = "1m"\n';

  it("becomes [deploy] release_command with hooks.timeout as release_command_timeout", () => {
    const parsed = parsePreviewConfig('hooks:\n  release: npx prisma migrate deploy\n  timeout: 90s\n');
    if (!parsed.ok) throw new Error("config should be valid");
    const toml = flyTomlFor("pr-42-acme-web", parsed.config, { flyRegion: "iad" });
    expect(toml).toContain('[deploy]\n  release_command = "npx prisma migrate deploy"\n  release_command_timeout = "90s"\n');
    expect(parse(toml).deploy).toEqual({ release_command: "npx prisma migrate deploy", release_command_timeout: "90s" });
  });

  it("wins over the repository's release_command and its timeout, keeping the rest of [deploy]", () => {
    const toml = renderFlyToml({ ...input, base, release: { command: "./bin/migrate --seed 'a b'", timeout: "10m" } });
    expect(parse(toml).deploy).toEqual({ release_command: "./bin/migrate --seed 'a b'", strategy: "rolling", release_command_timeout: "10m" });
  });

  it("leaves the repository's release_command as written when .preview.yml has none", () => {
    expect(parse(renderFlyToml({ ...input, base })).deploy).toEqual({ release_command: "npm run migrate", strategy: "rolling", release_command_timeout: "1m" });
  });

  it("writes hooks.timeout as a duration Go reads", () => {
    expect([goDuration(600_000), goDuration(90_000), goDuration(1_800_000), goDuration(3_600_000), goDuration(1500), goDuration(0)]).toEqual(["10m", "90s", "30m", "1h", "1500ms", "0s"]);
  });
});
