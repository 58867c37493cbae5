import { afterEach, describe, expect, it } from "vitest";
import { DOCKERFILE, PREVIEW_YML, pullRequest, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const WITH_FLY_TOML = `${PREVIEW_YML}fly_toml: deploy/fly.toml\n`;

async function openedWith(flyToml: string) {
  world = await startWorld();
  world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": WITH_FLY_TOML, "deploy/fly.toml": flyToml });
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  const row = await world.settled();
  const check = await until("a completed check run", () => world.gh.checkRuns.find((c) => c.status === "completed"));
  return { row, check };
}

describe("a repository's fly.toml cannot read the server's files", () => {
  it("a fly.toml whose [[files]] uploads /proc/self/environ is refused on that line, and nothing reaches Fly.io", async () => {
    const { row, check } = await openedWith(
      ['app = "acme-web"', "", "[[files]]", '  guest_path = "/app/leak"', '  local_path = "/proc/self/environ"', ""].join("\n"),
    );

    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("deploy/fly.toml is invalid");
    expect(check.output?.annotations).toEqual([
      expect.objectContaining({ path: "deploy/fly.toml", start_line: 5, end_line: 5, annotation_level: "failure" }),
    ]);
    expect(check.output?.annotations?.[0].message).toContain("local_path");
    expect(check.output?.summary).toContain("line 5");
    // Not even the app is created: the refusal comes before anything on Fly.io.
    expect(world.fly.calls()).toEqual([]);
    expect(world.gh.deployments).toEqual([]);
    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("deploy/fly.toml cannot be used: line 5");
    expect(world.comments()[0].body).toContain("❌ Preview failed");
  });

  it("a fly.toml with [build.compose] is refused too, and the next push without it deploys", async () => {
    const { check } = await openedWith('[build]\n  args = { A = "1" }\n\n[build.compose]\n  file = "compose.yml"\n');
    expect(check.output?.annotations).toEqual([expect.objectContaining({ path: "deploy/fly.toml", start_line: 4 })]);
    expect(world.fly.calls()).toEqual([]);

    world.commit(sha(2), { Dockerfile: DOCKERFILE, ".preview.yml": WITH_FLY_TOML, "deploy/fly.toml": '[build]\n  args = { A = "1" }\n' });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const row = await until("the fixed commit deployed", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });
    expect(row.deployed_sha).toBe(sha(2));
    expect(world.deploys()).toHaveLength(1);
  });

  it("what a preview can use of the repository's fly.toml reaches flyctl", async () => {
    const { row, check } = await openedWith(
      ['kill_signal = "SIGTERM"', "", "[[files]]", '  guest_path = "/etc/motd"', '  raw_value = "hello"', "", "[mounts]", '  source = "data"', '  destination = "/data"', ""].join("\n"),
    );

    expect(row.status).toBe("ready");
    expect(check.conclusion).toBe("success");
    expect(check.output?.text).toContain('kill_signal = "SIGTERM"');
    expect(check.output?.text).toContain('raw_value = "hello"');
    expect(check.output?.text).not.toContain("[mounts]");
  });
});
