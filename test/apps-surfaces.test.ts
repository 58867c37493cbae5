// The check run and the deployment of one app of several (`apps:` in .preview.yml, issue 15):
// named per app, so two apps' surfaces of one commit are told apart; a single app's keep
// today's names.
import { ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import { CHECK_ACTIONS, CHECK_NAME, checkRunName, createCheckRun, findOpenCheckRuns, isCheckRunName } from "../src/github/check-run.js";
import { createDeployment, environmentName, findDeployment } from "../src/github/deployment.js";
import type { Octokit } from "../src/github/octokit.js";
import { startFakeGitHub } from "./fake-github/server.js";

const [owner, repo] = ["acme", "shop"];
const SHA = "a1".padEnd(40, "0");

async function github(onTestFinished: (fn: () => Promise<void>) => void) {
  const gh = await startFakeGitHub();
  onTestFinished(() => gh.close());
  const octokit = new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } });
  return { gh, octokit: octokit as unknown as Octokit };
}

describe("the names of an app's surfaces", () => {
  it("keep today's for a single app, and add the app's name for one of several", () => {
    expect(CHECK_NAME).toBe("Fly Preview");
    expect(checkRunName()).toBe("Fly Preview");
    expect(checkRunName("web")).toBe("Fly Preview / web");
    expect(environmentName(12)).toBe("pr-12");
    expect(environmentName(12, "web")).toBe("pr-12-web");
  });

  it("tell our check runs from others by name", () => {
    expect(isCheckRunName("Fly Preview")).toBe(true);
    expect(isCheckRunName("Fly Preview / web")).toBe(true);
    expect(isCheckRunName("Fly Preview / api-2")).toBe(true);
    expect(isCheckRunName("Fly Preview / ")).toBe(false);
    expect(isCheckRunName("Fly Preview / Web")).toBe(false);
    expect(isCheckRunName("Fly Preview / web / x")).toBe(false);
    expect(isCheckRunName("Fly Preview Extra")).toBe(false);
    expect(isCheckRunName("CI")).toBe(false);
  });
});

describe("check runs of several apps of one commit", () => {
  it("each app's check run has its name and the same buttons; finding one app's never finds another's or the single app's", async ({ onTestFinished }) => {
    const { gh, octokit } = await github(onTestFinished);
    const output = { title: "Deploying", summary: "…" };
    // The same external id for all three: the name alone tells them apart (in use, each app's row, and so its id, differs too).
    const single = await createCheckRun(octokit, { owner, repo, sha: SHA, externalId: "7" }, output);
    const api = await createCheckRun(octokit, { owner, repo, sha: SHA, externalId: "7", app: "api" }, output);
    const web = await createCheckRun(octokit, { owner, repo, sha: SHA, externalId: "7", app: "web" }, output);
    expect(gh.checkRuns.map((run) => [run.id, run.name])).toEqual([
      [single.id, "Fly Preview"],
      [api.id, "Fly Preview / api"],
      [web.id, "Fly Preview / web"],
    ]);
    for (const run of gh.checkRuns) expect((run as unknown as { actions: unknown }).actions).toEqual(CHECK_ACTIONS);
    const where = { owner, repo, sha: SHA, externalId: "7", appId: 1 };
    expect((await findOpenCheckRuns(octokit, where)).map((run) => run.id)).toEqual([single.id]);
    expect((await findOpenCheckRuns(octokit, { ...where, app: "api" })).map((run) => run.id)).toEqual([api.id]);
    expect((await findOpenCheckRuns(octokit, { ...where, app: "web" })).map((run) => run.id)).toEqual([web.id]);
    expect(await findOpenCheckRuns(octokit, { ...where, app: "worker" })).toEqual([]);
  });
});

describe("deployments of several apps of one commit", () => {
  it("each app's deployment is in its own environment, and finding one app's never finds another's or the single app's", async ({ onTestFinished }) => {
    const { gh, octokit } = await github(onTestFinished);
    const where = { owner, repo, sha: SHA, number: 12 };
    const single = await createDeployment(octokit, where);
    const api = await createDeployment(octokit, { ...where, app: "api" });
    expect(gh.deployments.map((d) => [d.id, d.environment, d.transient_environment, d.production_environment])).toEqual([
      [single, "pr-12", true, false],
      [api, "pr-12-api", true, false],
    ]);
    expect(await findDeployment(octokit, { ...where, appId: 1 })).toBe(single);
    expect(await findDeployment(octokit, { ...where, appId: 1, app: "api" })).toBe(api);
    expect(await findDeployment(octokit, { ...where, appId: 1, app: "web" })).toBeUndefined();
    const web = await createDeployment(octokit, { ...where, app: "web" });
    expect(await findDeployment(octokit, { ...where, appId: 1, app: "web" })).toBe(web);
    expect(await findDeployment(octokit, { ...where, appId: 1, app: "api" })).toBe(api);
  });
});
