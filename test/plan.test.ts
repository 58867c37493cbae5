import { describe, expect, it } from "vitest";
import { parsePreviewConfig, type LoadedConfig } from "../src/config/index.js";
import { flyTomlFor } from "../src/preview/fly-config.js";
import { plan, type PlanInput, type PlannedPreview } from "../src/preview/plan.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OLDER = "fedcba9876543210fedcba9876543210fedcba98";

const preview: PlannedPreview = {
  number: 42,
  app_name: "pr-42-acme-web",
  head_ref: "feature/login",
  base_ref: "main",
  labels: "[]",
  draft: 0,
  fork: 0,
  approved_sha: null,
  desired_by: null,
  status: "queued",
  app_created: 0,
  deployed_sha: null,
  config_hash: null,
  env_hash: null,
};

function loaded(yaml: string): LoadedConfig {
  return { found: true, text: yaml, ...parsePreviewConfig(yaml) };
}

function input(yaml: string, over: Partial<Omit<PlanInput, "preview">> & { preview?: Partial<PlannedPreview> } = {}): PlanInput {
  return {
    sha: SHA,
    loaded: loaded(yaml),
    settings: { flyRegion: "iad", maxPerInstallation: undefined },
    active: {},
    ...over,
    preview: { ...preview, ...over.preview },
  };
}

describe("the plan of a deploy", () => {
  it("does nothing for a repository without .preview.yml", () => {
    expect(plan({ ...input(""), loaded: { found: false } })).toEqual({ kind: "none" });
  });

  it("reports an invalid .preview.yml with each problem at its line", () => {
    const decided = plan(input("port: 3000\nresources:\n  memory: lots\n"));
    expect(decided.kind).toBe("invalid");
    expect(decided.kind === "invalid" && decided.problems.map((p) => [p.path, p.line])).toEqual([["resources.memory", 3]]);
  });

  it("skips a pull request the trigger rules do not let through, and destroys the preview it already has", () => {
    const yaml = "trigger:\n  labels: [preview]\n";
    expect(plan(input(yaml))).toMatchObject({
      kind: "skip",
      reason: "the pull request carries none of the labels in trigger.labels (preview)",
      remedy: 'Add the label "preview" to deploy it again.',
      destroy: false,
    });
    expect(plan(input(yaml, { preview: { app_created: 1 } }))).toMatchObject({ kind: "skip", destroy: true });
    expect(plan(input(yaml, { preview: { labels: '["Preview"]' } })).kind).toBe("deploy");
  });

  it("deploys a skipped pull request when someone with write access asks by command", () => {
    expect(plan(input("trigger:\n  drafts: false\n", { preview: { draft: 1 } })).kind).toBe("skip");
    expect(plan(input("trigger:\n  drafts: false\n", { preview: { draft: 1, desired_by: "octocat" } })).kind).toBe("deploy");
  });

  it("blocks a fork under forks: off, and a trusted fork deploys", () => {
    expect(plan(input("forks: off\n", { preview: { fork: 1 } })).kind).toBe("blocked");
    expect(plan(input("forks: trusted\n", { preview: { fork: 1 } })).kind).toBe("deploy");
  });

  it("makes a fork's commit wait for approval under forks: approve; the approved commit deploys, a newer one waits again", () => {
    expect(plan(input("forks: approve\n", { preview: { fork: 1 } })).kind).toBe("approve");
    expect(plan(input("forks: approve\n", { preview: { fork: 1, approved_sha: SHA } })).kind).toBe("deploy");
    expect(plan(input("forks: approve\n", { preview: { fork: 1, approved_sha: OLDER } })).kind).toBe("approve");
  });

  it("leaves a ready preview of this commit as it is when the rules still let it through; a redeploy command deploys it again", () => {
    const serving = { status: "ready" as const, app_created: 1, deployed_sha: SHA };
    expect(plan(input("", { preview: serving })).kind).toBe("stay");
    expect(plan(input("", { preview: { ...serving, deployed_sha: OLDER } })).kind).toBe("deploy");
    expect(plan(input("", { preview: { ...serving, desired_by: "octocat" } })).kind).toBe("deploy");
  });

  it("waits for a free slot when the repository's or the installation's limit is full; an app that exists keeps its slot", () => {
    expect(plan(input("max_previews: 2\n", { active: { repository: 2 } }))).toMatchObject({
      kind: "wait",
      limit: { scope: "repository", active: 2, max: 2 },
    });
    expect(plan(input("max_previews: 2\n", { active: { repository: 1 } })).kind).toBe("deploy");
    const perInstallation = { settings: { flyRegion: "iad", maxPerInstallation: 3 }, active: { installation: 3 } };
    expect(plan(input("", perInstallation))).toMatchObject({ kind: "wait", limit: { scope: "installation", active: 3, max: 3 } });
    expect(plan(input("", { ...perInstallation, preview: { app_created: 1 } })).kind).toBe("deploy");
  });

  it("refuses a repository fly.toml that makes flyctl read the server's files, naming the line", () => {
    const decided = plan(input("fly_toml: deploy/fly.toml\n", { repoFlyToml: 'app = "prod"\n\n[[files]]\nguest_path = "/x"\nlocal_path = "/etc/passwd"\n' }));
    expect(decided).toMatchObject({ kind: "refused", file: "deploy/fly.toml", problems: [{ path: "files[0].local_path", line: 5 }] });
  });

  it("deploys with exactly these flyctl options and this fly.toml", () => {
    const yaml = [
      "port: 3000",
      "region: cdg",
      "env:",
      "  BASE_URL: ${PREVIEW_URL}",
      "build_args:",
      "  BRANCH: ${HEAD_REF}",
      "resources:",
      "  memory: 1GB",
      "  cpus: 2",
      "  cpu_kind: performance",
      "secrets: [DATABASE_URL]",
      "",
    ].join("\n");
    const decided = plan(input(yaml));
    if (decided.kind !== "deploy") throw new Error(`planned ${decided.kind}`);
    const machine = { app: "pr-42-acme-web", env: { BASE_URL: "https://pr-42-acme-web.fly.dev" }, memoryMb: 1024, cpus: 2, cpuKind: "performance" };
    expect(decided.fly.build).toEqual({ ...machine, imageLabel: "pr-42-0123456", buildArgs: { BRANCH: "feature/login" } });
    expect(decided.fly.release).toEqual({ ...machine, image: "registry.fly.io/pr-42-acme-web:pr-42-0123456" });
    expect(decided.fly.url).toBe("https://pr-42-acme-web.fly.dev");
    // The machine its hooks run on and its cost is estimated from: the deploy's, in its fly.toml's region.
    expect(decided.fly.machine).toEqual({ region: "cdg", memoryMb: 1024, cpus: 2, cpuKind: "performance" });
    expect(decided.secrets).toEqual(["DATABASE_URL"]);
    expect(decided.secretsWithheld).toBe(false);
    expect(decided.missingFlyToml).toBeUndefined();
    expect(decided.flyToml).toMatchInlineSnapshot(`
      "app = "pr-42-acme-web"
      primary_region = "cdg"
      [build]
        dockerfile = "Dockerfile"
      [env]
        PREVIEW = "true"
      [http_service]
        internal_port = 3000
        force_https = true
        auto_stop_machines = "stop"
        auto_start_machines = true
        min_machines_running = 0
      [[vm]]
        memory = "1gb"
        cpu_kind = "performance"
        cpus = 2
      "
    `);
  });

  it("builds on the repository's fly.toml, and shows the same fly.toml `flyTomlFor` gives without a pull request", () => {
    const repoFlyToml = 'app = "prod"\nkill_signal = "SIGINT"\n[env]\nLOG_LEVEL = "debug"\n';
    const decided = plan(input("fly_toml: fly.toml\n", { repoFlyToml }));
    if (decided.kind !== "deploy") throw new Error(`planned ${decided.kind}`);
    expect(decided.flyToml).toContain('kill_signal = "SIGINT"');
    expect(decided.flyToml).toContain('LOG_LEVEL = "debug"');
    expect(decided.flyToml).not.toContain('"prod"');
    expect(flyTomlFor("pr-42-acme-web", decided.config, { flyRegion: "iad" }, repoFlyToml)).toBe(decided.flyToml);
  });

  it("withholds secrets from a fork's preview unless forks: trusted", () => {
    expect(plan(input("secrets: [API_KEY]\nforks: approve\n", { preview: { fork: 1, approved_sha: SHA } }))).toMatchObject({
      kind: "deploy",
      secrets: [],
      secretsWithheld: true,
    });
    expect(plan(input("secrets: [API_KEY]\nforks: trusted\n", { preview: { fork: 1 } }))).toMatchObject({
      kind: "deploy",
      secrets: ["API_KEY"],
      secretsWithheld: false,
    });
  });

  it("deploys a config whose fly_toml the commit lacks, so that the deploy fails saying so", () => {
    expect(plan(input("fly_toml: deploy/fly.toml\n"))).toMatchObject({ kind: "deploy", missingFlyToml: "deploy/fly.toml" });
  });
});
