// A repository without a Dockerfile, end to end: fake GitHub, fake flyctl, the real
// @flydotio/dockerfile in between.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import { issueComment, PREVIEW_YML, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";
const WRITER = "maintainer-mo";
const PACKAGE_JSON = JSON.stringify({ name: "hello", version: "1.0.0", scripts: { start: "node index.js" } }, null, 2);
const NODE_APP = { "package.json": PACKAGE_JSON, "index.js": "require('http').createServer((q, s) => s.end('hi')).listen(8080)\n" };

/** PR #2 at sha(1) with `files`, delivered and settled. */
async function deployed(files: Record<string, string>) {
  world = await startWorld();
  world.commit(sha(1), files);
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  world.gh.setPermission(REPO, WRITER, "write");
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  return world.settled();
}

const sticky = () => world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!;
const check = () => world.gh.checkRuns.find((c) => c.head_sha === sha(1))!;
const builds = () => world.fly.apps()[APP]?.deployments ?? [];

describe("a repository without a Dockerfile", () => {
  it("a Node.js project deploys with one Fly's generator writes, shown in the check run and named in the comment", async () => {
    const row = await deployed({ ...NODE_APP, ".preview.yml": PREVIEW_YML });

    expect(row.status).toBe("ready");
    const [build] = builds();
    // What flyctl built is the generator's work, read through the generated fly.toml.
    expect(build?.dockerfileText).toMatch(/^# syntax = docker\/dockerfile:1\n/);
    expect(build?.dockerfileText).toContain('LABEL fly_launch_runtime="Node.js"');
    expect(build?.dockerfileText).toContain('CMD [ "npm", "run", "start" ]');
    const toml = parseToml(check().output!.text!.match(/```toml\n([\s\S]*?)\n```/)![1]!) as { build: { dockerfile: string } };
    expect(toml.build.dockerfile).toBe("Dockerfile");

    expect(check().conclusion).toBe("success");
    expect(check().output?.summary).toContain("**Dockerfile:** generated with @flydotio/dockerfile 0.7.10; the repository has none");
    const text = check().output!.text!;
    expect(text).toContain("### Generated Dockerfile");
    expect(text).toContain("It also wrote `.dockerignore` into the build context for this build.");
    expect(text).toContain("run `npx @flydotio/dockerfile` at the repository's root and commit the `Dockerfile` it writes");
    const folded = text.match(/<details><summary>Dockerfile \((\d+) lines\)<\/summary>\n\n```dockerfile\n([\s\S]*?)\n```\n\n<\/details>/);
    expect(folded?.[2]).toBe(build!.dockerfileText!.trimEnd());
    expect(Number(folded?.[1])).toBe(build!.dockerfileText!.trimEnd().split("\n").length);
    expect(text).toMatch(/\| Dockerfile generation \| \d+s \|/);
    // The generator's default port is not .preview.yml's (8080 here): the one mistake a user is likely to hit next.
    expect(text).toContain("The generated Dockerfile expects the app to listen on port 3000 (`EXPOSE 3000`), and Fly sends requests to `port` in `.preview.yml`, 8080:");

    expect(sticky().body).toContain("✅ Preview ready");
    expect(sticky().body).toContain("Built with a generated Dockerfile: the repository has none. The check run shows it and how to commit it.");
  });

  it("a build context in a folder gets its Dockerfile at the default path, where the fly.toml points", async () => {
    const files = Object.fromEntries(Object.entries(NODE_APP).map(([path, text]) => [`web/${path}`, text]));
    const row = await deployed({ ...files, ".preview.yml": `${PREVIEW_YML.replace("port: 8080", "port: 3000")}context: web\n` });

    expect(row.status).toBe("ready");
    expect(builds()[0]?.dockerfileText).toContain("FROM node:${NODE_VERSION}-slim AS base");
    const text = check().output!.text!;
    expect(text).toContain('dockerfile = "Dockerfile"');
    expect(text).toContain("run `npx @flydotio/dockerfile` in `web`, commit the `Dockerfile` it writes there and name it with `dockerfile: web/Dockerfile` in `.preview.yml`");
    expect(text).not.toContain("expects the app to listen on port");
    const deploy = world.deploys()[0]!;
    expect(deploy.cwd.endsWith("/web")).toBe(true);
  });

  it("a Dockerfile .preview.yml names and the commit lacks fails as it always has, with nothing generated", async () => {
    const row = await deployed({ ...NODE_APP, ".preview.yml": `${PREVIEW_YML}dockerfile: Dockerfile\n` });

    expect(row.status).toBe("failed");
    expect(row.last_error).toBe('dockerfile: "Dockerfile" does not exist in the repository at this commit');
    expect(world.deploys()).toEqual([]);
    expect(check().conclusion).toBe("failure");
    expect(check().output?.text ?? "").not.toContain("Generated Dockerfile");
    expect(sticky().body).not.toContain("generated Dockerfile");
  });

  it("another stack fails saying which path was looked for, what fly-preview generates for, and what to add", async () => {
    const row = await deployed({ "requirements.txt": "flask\n", "app.py": "print('hi')\n", ".preview.yml": PREVIEW_YML });

    expect(row.status).toBe("failed");
    const reason =
      'dockerfile: "Dockerfile" does not exist in the repository at this commit, and fly-preview generates a Dockerfile only for a Node.js project ' +
      "(a package.json in the build context, the repository's root). Commit a Dockerfile at \"Dockerfile\", or name yours with dockerfile: in .preview.yml";
    expect(row.last_error).toBe(reason);
    expect(world.deploys()).toEqual([]);
    expect(check().conclusion).toBe("failure");
    expect(check().output?.summary).toContain("fly-preview generates a Dockerfile only for a Node.js project");
    // Fly's Node.js generator is no advice for a Python project.
    expect(check().output?.text ?? "").not.toContain("npx");
    expect(sticky().body).toContain("❌ Preview failed");
    expect(sticky().body).toContain("only for a Node.js project");
  });

  it("a package.json that is not JSON fails cleanly, saying so and how to add a Dockerfile", async () => {
    const row = await deployed({ "package.json": '{"name": "hello", "scripts": {', ".preview.yml": PREVIEW_YML });

    expect(row.status).toBe("failed");
    expect(row.last_error).toMatch(/^dockerfile: "Dockerfile" does not exist in the repository at this commit, and fly-preview did not generate one: "package.json" is not valid JSON \(/);
    expect(world.deploys()).toEqual([]);
    const text = check().output!.text!;
    expect(text).toContain("### No Dockerfile");
    expect(text).toContain("run `npx @flydotio/dockerfile` at the repository's root and commit the `Dockerfile` it writes");
  });

  it("a generator failure fails the check run with its output, this server's paths hidden", async () => {
    // Valid JSON the generator chokes on: engines.node without a version in it.
    const row = await deployed({ "package.json": JSON.stringify({ name: "hello", engines: { node: ">=" } }), ".preview.yml": PREVIEW_YML });

    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("Fly's Dockerfile generator failed to write one: it exited with code 1");
    expect(world.deploys()).toEqual([]);
    const text = check().output!.text!;
    expect(text).toMatch(/<details><summary>Dockerfile generator output \(last \d+ lines\)<\/summary>/);
    expect(text).toContain("TypeError");
    expect(text).toContain("file://@flydotio/dockerfile/gdf.js");
    const installed = dirname(createRequire(import.meta.url).resolve("@flydotio/dockerfile/package.json"));
    expect(text).not.toContain(dirname(dirname(installed)));
    expect(text).not.toContain("/fly-preview-");
  });

  it("a redeploy of the same commit releases the image it built: no source, no generator, and the surfaces do not repeat the Dockerfile", async () => {
    await deployed({ ...NODE_APP, ".preview.yml": PREVIEW_YML });
    await world.deliverEvent("issue_comment", issueComment("/preview redeploy", { user: WRITER }));
    await world.commandsDone();
    const row = await until("the redeploy", async () => {
      const r = await world.settled();
      return world.deploys().length === 2 ? r : undefined;
    });

    expect(row.status).toBe("ready");
    expect(world.deploys()[1]!.argv).toContain("--image");
    expect(world.gh.requests.filter((r) => r.path.includes("/tarball/"))).toHaveLength(1);
    expect(check().output?.summary).toContain("without a build");
    expect(check().output?.text ?? "").not.toContain("Generated Dockerfile");
    expect(sticky().body).not.toContain("generated Dockerfile");
  });
});
