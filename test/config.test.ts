import type { ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import {
  CONFIG_PATH,
  checkTrigger,
  interpolate,
  loadPreviewConfig,
  parseDuration,
  parseMemoryMb,
  parsePreviewConfig,
  type ConfigProblem,
  type ContentsReader,
  type PreviewConfig,
} from "../src/config/index.js";
import { branchMatches } from "../src/config/trigger.js";

function valid(text: string): PreviewConfig {
  const result = parsePreviewConfig(text);
  if (!result.ok) throw new Error(`expected a valid config, got: ${JSON.stringify(result.problems)}`);
  return result.config;
}

function problems(text: string): ConfigProblem[] {
  const result = parsePreviewConfig(text);
  if (result.ok) throw new Error("expected problems, the config was valid");
  return result.problems;
}

const DEFAULTS: PreviewConfig = {
  dockerfile: "Dockerfile",
  dockerfileNamed: false,
  context: ".",
  port: 8080,
  env: {},
  build_args: {},
  build: { timeout: "20m", timeoutMs: 1_200_000 },
  secrets: [],
  health: { path: "/", timeout: "120s", timeoutMs: 120_000 },
  // Idle previews cost nothing: the smallest shared machine, stopped when idle.
  resources: { memory: "256mb", memoryMb: 256, cpus: 1, cpu_kind: "shared" },
  ttl: "7d",
  ttlMs: 7 * 86_400_000,
  notify: "edit",
  trigger: { labels: [], branches: [], drafts: false },
  forks: "approve",
  hooks: { timeout: "10m", timeoutMs: 600_000 },
};

describe("a valid .preview.yml", () => {
  it("keeps every field the user wrote and computes the derived values", () => {
    const config = valid(`
dockerfile: ./docker//web.Dockerfile
context: apps/web/
fly_toml: deploy/fly.toml
port: 3000
region: cdg
env:
  NODE_ENV: production
  BASE_URL: \${PREVIEW_URL}
build_args:
  NODE_VERSION: "20"
build:
  timeout: 45m
health:
  path: /healthz
  timeout: 3m
resources:
  memory: 2GB
  cpus: 2
  cpu_kind: performance
ttl: 7d
notify: comment
max_previews: 5
secrets: [DATABASE_URL]
forks: trusted
trigger:
  labels: [preview]
  branches: [main, "release/**"]
  drafts: true
hooks:
  release: npx prisma migrate deploy
  postdeploy: npm run seed
  predestroy: ./scripts/cleanup.sh
  timeout: 15m
`);
    expect(config).toEqual({
      dockerfile: "docker/web.Dockerfile",
      dockerfileNamed: true,
      context: "apps/web",
      fly_toml: "deploy/fly.toml",
      port: 3000,
      region: "cdg",
      env: { NODE_ENV: "production", BASE_URL: "${PREVIEW_URL}" },
      build_args: { NODE_VERSION: "20" },
      build: { timeout: "45m", timeoutMs: 2_700_000 },
      secrets: ["DATABASE_URL"],
      health: { path: "/healthz", timeout: "3m", timeoutMs: 180_000 },
      resources: { memory: "2gb", memoryMb: 2048, cpus: 2, cpu_kind: "performance" },
      ttl: "7d",
      ttlMs: 7 * 86_400_000,
      notify: "comment",
      max_previews: 5,
      trigger: { labels: ["preview"], branches: ["main", "release/**"], drafts: true },
      forks: "trusted",
      hooks: { release: "npx prisma migrate deploy", postdeploy: "npm run seed", predestroy: "./scripts/cleanup.sh", timeout: "15m", timeoutMs: 900_000 },
    } satisfies PreviewConfig);
  });

  it("fills in defaults for the fields left out, including inside health, resources and trigger", () => {
    expect(valid("port: 3000\nresources:\n  cpus: 2\n")).toEqual({
      ...DEFAULTS,
      port: 3000,
      resources: { ...DEFAULTS.resources, cpus: 2 },
    });
  });

  it("an empty file opts in with every default", () => {
    expect(valid("")).toEqual(DEFAULTS);
    expect(valid("# previews on, defaults everywhere\n")).toEqual(DEFAULTS);
    expect(valid("~\n")).toEqual(DEFAULTS);
  });

  it("treats a field with nothing after it as not set", () => {
    expect(valid("region:\nhealth:\n  path:\n")).toEqual(DEFAULTS);
  });

  it("tells a Dockerfile the file names from the default one, which may be generated", () => {
    expect(valid("dockerfile: Dockerfile\n")).toMatchObject({ dockerfile: "Dockerfile", dockerfileNamed: true });
    expect(valid("port: 3000\n")).toMatchObject({ dockerfile: "Dockerfile", dockerfileNamed: false });
    // `dockerfile:` with nothing after it is not set, like a line left out.
    expect(valid("dockerfile:\n")).toMatchObject({ dockerfile: "Dockerfile", dockerfileNamed: false });
  });

  it("accepts a path that wanders but stays inside the repository", () => {
    expect(valid("dockerfile: docker/../Dockerfile.preview").dockerfile).toBe("Dockerfile.preview");
  });
});

describe("an invalid .preview.yml", () => {
  it("reports a YAML syntax error at the line where it happens", () => {
    expect(problems("port: 3000\nregion: iad: cdg\nttl: 7d\n")).toEqual([
      { path: "", message: "YAML syntax error: Nested mappings are not allowed in compact mappings", line: 2, column: 9 },
    ]);
    expect(problems("port: 3000\nenv:\n\tA: b\n")).toMatchObject([{ line: 3, message: "YAML syntax error: Tabs are not allowed as indentation" }]);
  });

  it("reports a key written twice at the second one", () => {
    expect(problems("port: 1\nregion: iad\nport: 2\n")).toMatchObject([{ line: 3, column: 1, message: "YAML syntax error: Map keys must be unique" }]);
  });

  it("points an unknown field at its own line and suggests the field that was meant", () => {
    expect(problems("port: 3000\n\ndockerFile: web.Dockerfile\n")).toEqual([
      { path: "dockerFile", message: 'unknown field "dockerFile" (did you mean "dockerfile"?)', line: 3, column: 1 },
    ]);
  });

  it("lists the allowed fields when an unknown one resembles none of them", () => {
    expect(problems("resources:\n  gpu: a100\n")).toEqual([
      { path: "resources.gpu", message: 'unknown field "gpu" in resources; fields allowed here: memory, cpus, cpu_kind', line: 2, column: 3 },
    ]);
  });

  it("points a wrong type three levels deep at the offending value", () => {
    expect(problems("port: 3000\ntrigger:\n  drafts: false\n  labels:\n    - preview\n    - 7\n")).toEqual([
      { path: "trigger.labels[1]", message: 'trigger.labels[1]: must be a string; put the value in quotes, like - "7" (got 7)', line: 6, column: 7 },
    ]);
  });

  it("tells the user to quote a number or boolean in env", () => {
    expect(problems("env:\n  DEBUG: true\n")).toEqual([
      { path: "env.DEBUG", message: 'env.DEBUG: must be a string; put the value in quotes, like DEBUG: "true" (got true)', line: 2, column: 10 },
    ]);
  });

  it("rejects an environment variable name that is not a valid name, at the name", () => {
    expect(problems("build_args:\n  OK: x\n  1BAD: y\n")).toEqual([
      {
        path: "build_args.1BAD",
        message: 'build_args: "1BAD" is not a valid name; use letters, digits and _, not starting with a digit',
        line: 3,
        column: 3,
      },
    ]);
  });

  it("refuses a `notify` other than edit or comment, on its line, naming both", () => {
    expect(problems("notify: email\n")).toEqual([
      { path: "notify", message: 'notify: "email" is not allowed; use one of "edit", "comment"', line: 1, column: 9 },
    ]);
  });

  it("explains each kind of wrong value in plain words", () => {
    const messages = problems(`
port: 70000
region: IAD
health:
  path: healthz
  timeout: soon
resources:
  memory: lots
  cpus: 1.5
  cpu_kind: fast
ttl: 7
max_previews: 0
trigger:
  branches: main
  drafts: maybe
`).map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual([
      "2: port: must be a whole number between 1 and 65535 (got 70000)",
      '3: region: "IAD" is not a Fly region code; use three lowercase letters, like "iad" or "cdg"',
      '5: health.path: "healthz" is not a URL path; it must start with "/", like "/healthz"',
      '6: health.timeout: "soon" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"',
      '8: resources.memory: "lots" is not a memory size; use a value like "512mb" or "1gb"',
      "9: resources.cpus: must be a whole number between 1 and 16 (got 1.5)",
      '10: resources.cpu_kind: "fast" is not allowed; use one of "shared", "performance"',
      '11: ttl: "7" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"',
      "12: max_previews: must be a whole number of at least 1 (got 0)",
      '14: trigger.branches: must be a list, like [main] or lines starting with "- " (got "main")',
      '15: trigger.drafts: must be true or false (got "maybe")',
    ]);
  });

  it("refuses a build or health timeout past its maximum, on its line, naming the maximum", () => {
    expect(problems("port: 8080\nbuild:\n  timeout: 3650d\nhealth:\n  timeout: 16m\n")).toEqual([
      { path: "build.timeout", message: 'build.timeout: "3650d" is too long; the most allowed is 60m', line: 3, column: 12 },
      { path: "health.timeout", message: 'health.timeout: "16m" is too long; the most allowed is 15m', line: 5, column: 12 },
    ]);
    expect(valid("build:\n  timeout: 60m\nhealth:\n  timeout: 900s\n")).toMatchObject({
      build: { timeoutMs: 3_600_000 },
      health: { timeoutMs: 900_000 },
    });
  });

  it("rejects paths that climb out of the repository", () => {
    expect(problems("context: ../x\n")).toEqual([
      { path: "context", message: 'context: "../x" points outside the repository; use a path inside it', line: 1, column: 10 },
    ]);
    expect(problems("dockerfile: docker/../../Dockerfile\n")[0].message).toMatch(/points outside the repository/);
  });

  it("rejects absolute paths", () => {
    expect(problems("fly_toml: /etc/fly.toml\n")).toEqual([
      {
        path: "fly_toml",
        message: 'fly_toml: "/etc/fly.toml" is an absolute path; use a path relative to the repository root',
        line: 1,
        column: 11,
      },
    ]);
    expect(problems("dockerfile: C:\\docker\\Dockerfile\n")[0].message).toMatch(/is an absolute path/);
  });

  it("rejects a file that is a list or a plain value rather than fields", () => {
    expect(problems("- port: 3000\n")).toEqual([
      { path: "", message: '.preview.yml must be a mapping of fields such as "port: 3000", not a list', line: 1, column: 1 },
    ]);
    expect(problems("yes please\n")[0]).toMatchObject({ line: 1, message: expect.stringContaining('not "yes please"') });
  });

  it("reports every problem at once, in line order", () => {
    expect(problems("resources:\n  memory: x\nport: 0\nfoo: 1\n").map((p) => p.line)).toEqual([2, 3, 4]);
  });
});

describe("durations and memory sizes", () => {
  it("turns durations into milliseconds", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("12h")).toBe(43_200_000);
    expect(parseDuration("7d")).toBe(604_800_000);
  });

  it("refuses durations without a known unit", () => {
    for (const text of ["", "7", "7w", "1.5h", "-1s", " 5m", "5 m"]) expect(() => parseDuration(text), text).toThrow(/is not a duration/);
  });

  it("reads memory in megabytes or gigabytes, in any case", () => {
    expect(parseMemoryMb("1gb")).toBe(1024);
    expect(parseMemoryMb("256mb")).toBe(256);
    expect(parseMemoryMb("2048MB")).toBe(2048);
    expect(() => parseMemoryMb("1tb")).toThrow(/is not a memory size/);
  });
});

describe("trigger rules", () => {
  const all = { labels: [], branches: [], drafts: false };
  const pr = { labels: [], baseRef: "main", draft: false };

  it("previews every ready pull request by default", () => {
    expect(checkTrigger(all, pr)).toEqual({ ok: true });
  });

  it("skips drafts unless trigger.drafts is true", () => {
    expect(checkTrigger(all, { ...pr, draft: true })).toEqual({
      ok: false,
      reason: "draft pull requests are not previewed (set trigger.drafts: true)",
      remedy: "Mark the pull request ready for review to deploy it again.",
    });
    expect(checkTrigger({ ...all, drafts: true }, { ...pr, draft: true })).toEqual({ ok: true });
  });

  it("with labels set, previews only pull requests carrying one of them, ignoring case", () => {
    const trigger = { ...all, labels: ["preview", "deploy-me"] };
    expect(checkTrigger(trigger, { ...pr, labels: ["bug", "Preview"] })).toEqual({ ok: true });
    expect(checkTrigger(trigger, { ...pr, labels: ["bug"] })).toEqual({
      ok: false,
      reason: "the pull request carries none of the labels in trigger.labels (preview, deploy-me)",
      remedy: 'Add the label "preview" or "deploy-me" to deploy it again.',
    });
  });

  it("matches base branches with * inside one segment and ** across segments", () => {
    const matches = (glob: string, baseRef: string) => checkTrigger({ ...all, branches: [glob] }, { ...pr, baseRef }).ok;
    expect(matches("main", "main")).toBe(true);
    expect(matches("main", "main2")).toBe(false);
    expect(matches("release/*", "release/1.2")).toBe(true);
    expect(matches("release/*", "release/1.2/fix")).toBe(false);
    expect(matches("release/**", "release/1.2/fix")).toBe(true);
    expect(matches("release/**", "release")).toBe(false);
    expect(matches("**/main", "main")).toBe(true);
    expect(matches("**/main", "team/a/main")).toBe(true);
    expect(matches("v1.*", "v1x2")).toBe(false);
    expect(matches("*", "feature/x")).toBe(false);
  });

  it("matches a hostile pattern in time proportional to it and the branch, as a RegExp would not", () => {
    // As a backtracking RegExp (what matched branches before), each of these ran for minutes.
    const hostile: Array<[string, string]> = [
      [`${"*a".repeat(14)}b`, "a".repeat(60)],
      [`${"**a".repeat(12)}b`, "a".repeat(60)],
      [`${"**/".repeat(40)}${"*a".repeat(10)}b`, `${"a/".repeat(60)}${"a".repeat(60)}`],
    ];
    const started = performance.now();
    for (const [glob, branch] of hostile) expect(branchMatches(glob, branch)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(branchMatches(`${"*a".repeat(14)}b`, `${"a".repeat(60)}b`)).toBe(true);
  });

  it("says which base branch was not matched", () => {
    expect(checkTrigger({ ...all, branches: ["main", "release/*"] }, { ...pr, baseRef: "develop" })).toEqual({
      ok: false,
      reason: 'the base branch "develop" does not match trigger.branches (main, release/*)',
      remedy: "Change the base branch to one that trigger.branches names to deploy it again.",
    });
  });
});

describe("variables in env and build_args", () => {
  const vars = {
    PR_NUMBER: "42",
    PREVIEW_URL: "https://pr-42-acme-web.fly.dev",
    APP_NAME: "pr-42-acme-web",
    HEAD_SHA: "3f2c1d",
    HEAD_REF: "feature/${APP_NAME}",
  };

  it("replaces the five known placeholders, as often as they appear", () => {
    expect(interpolate({ URL: "${PREVIEW_URL}/api", TAG: "${APP_NAME}@${HEAD_SHA}#${PR_NUMBER}#${PR_NUMBER}" }, vars)).toEqual({
      URL: "https://pr-42-acme-web.fly.dev/api",
      TAG: "pr-42-acme-web@3f2c1d#42#42",
    });
  });

  it("leaves unknown placeholders and shell-looking text alone", () => {
    expect(interpolate({ A: "${HOME}", B: "$PR_NUMBER", C: "${PR_NUMBER:-1}", D: "$(whoami)" }, vars)).toEqual({
      A: "${HOME}",
      B: "$PR_NUMBER",
      C: "${PR_NUMBER:-1}",
      D: "$(whoami)",
    });
  });

  it("inserts a branch name literally, even one that looks like a placeholder", () => {
    expect(interpolate({ REF: "${HEAD_REF}" }, vars)).toEqual({ REF: "feature/${APP_NAME}" });
  });
});

describe("loading .preview.yml from GitHub", () => {
  const where = { owner: "acme", repo: "web", ref: "3f2c1d" };

  function fakeOctokit(answer: () => unknown) {
    const calls: unknown[] = [];
    const octokit: ContentsReader = {
      rest: {
        repos: {
          async getContent(params) {
            calls.push(params);
            return { data: answer() };
          },
        },
      },
    };
    return { octokit, calls };
  }

  it("reads the raw file at the given ref", async () => {
    const { octokit, calls } = fakeOctokit(() => "port: 3000\n");
    const loaded = await loadPreviewConfig(octokit, where);
    expect(calls).toEqual([{ owner: "acme", repo: "web", ref: "3f2c1d", path: CONFIG_PATH, mediaType: { format: "raw" } }]);
    expect(loaded).toMatchObject({ found: true, ok: true, text: "port: 3000\n", config: { port: 3000 } });
  });

  it("decodes a file that arrives as bytes", async () => {
    const bytes = new TextEncoder().encode("region: cdg\n");
    for (const data of [bytes.buffer, bytes, Buffer.from(bytes)]) {
      const loaded = await loadPreviewConfig(fakeOctokit(() => data).octokit, where);
      expect(loaded).toMatchObject({ found: true, ok: true, text: "region: cdg\n", config: { region: "cdg" } });
    }
  });

  it("passes on the problems of an invalid file", async () => {
    const loaded = await loadPreviewConfig(fakeOctokit(() => "port: lots\n").octokit, where);
    expect(loaded).toMatchObject({ found: true, ok: false, problems: [{ path: "port", line: 1 }] });
  });

  it("a missing file means the repository has not opted in", async () => {
    const missing = fakeOctokit(() => {
      throw Object.assign(new Error("Not Found"), { status: 404 });
    });
    expect(await loadPreviewConfig(missing.octokit, where)).toEqual({ found: false });
  });

  it("lets other GitHub errors through, so the run is retried", async () => {
    const broken = fakeOctokit(() => {
      throw Object.assign(new Error("Server Error"), { status: 502 });
    });
    await expect(loadPreviewConfig(broken.octokit, where)).rejects.toThrow("Server Error");
  });

  it("reports a directory named .preview.yml as a problem", async () => {
    const loaded = await loadPreviewConfig(fakeOctokit(() => [{ name: "x", type: "file" }]).octokit, where);
    expect(loaded).toMatchObject({ found: true, ok: false, problems: [{ message: ".preview.yml must be a file, not a directory" }] });
  });

  it("accepts a Probot octokit", () => {
    // Checked by the type checker: this stops compiling if ProbotOctokit no longer fits.
    type Fits = InstanceType<typeof ProbotOctokit> extends ContentsReader ? true : false;
    const fits: Fits = true;
    expect(fits).toBe(true);
  });
});

describe("hooks", () => {
  it("each problem of a hook is placed on its own line", () => {
    const found = problems("port: 3000\nhooks:\n  postdeploy: \"\"\n  predestroy: \"a\\nb\"\n  timeout: 45m\n  seed: npm run seed\n");
    expect(found.map((p) => [p.line, p.path, p.message])).toEqual([
      [3, "hooks.postdeploy", "hooks.postdeploy: must not be empty"],
      [4, "hooks.predestroy", 'hooks.predestroy: "a\\nb" is not a one-line command; it must not contain line breaks, tabs or other control characters'],
      [5, "hooks.timeout", 'hooks.timeout: "45m" is too long; the most allowed is 30m'],
      [6, "hooks.seed", 'unknown field "seed" in hooks; fields allowed here: release, postdeploy, predestroy, timeout'],
    ]);
  });

  it("a command has at most 1024 characters, and a timeout is a duration", () => {
    const found = problems(`hooks:\n  release: ${"x".repeat(1025)}\n  timeout: 10\n`);
    expect(found.map((p) => [p.line, p.message])).toEqual([
      [2, "hooks.release: is too long; at most 1024 characters"],
      [3, 'hooks.timeout: "10" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"'],
    ]);
  });
});
