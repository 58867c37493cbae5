import { describe, expect, it } from "vitest";
import { notDeployedOutput, waitingForSlotOutput } from "../src/github/check-run.js";
import {
  destroyedDescription,
  fullLimitReason,
  lastAttemptReason,
  missingFileReason,
  retryNotice,
  supersededDescription,
  supersededReason,
} from "../src/github/messages.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const NEWER = "fedcba9876543210fedcba9876543210fedcba98";

describe("what a run tells people", () => {
  it("names the full limit and how to free a slot", () => {
    const free = "Close a pull request, or comment `/preview destroy` on one, to free a slot: this preview then deploys by itself.";
    expect(fullLimitReason({ scope: "repository", active: 3, max: 3 })).toBe(
      `This repository already has 3 previews running, its limit (max_previews: 3 in .preview.yml). ${free}`,
    );
    expect(fullLimitReason({ scope: "installation", active: 10, max: 10 })).toBe(
      `This installation already has 10 previews running, the server's limit (PREVIEW_MAX_PER_INSTALLATION=10). ${free}`,
    );
  });

  it("says in the check run why nothing was deployed, with the reason escaped", () => {
    expect(notDeployedOutput("the base branch <dev> does not match")).toEqual({ title: "Not deployed", summary: "the base branch &lt;dev&gt; does not match" });
    expect(waitingForSlotOutput("full")).toEqual({ title: "Waiting for a free slot", summary: "full" });
  });

  it("names the missing file by its field", () => {
    expect(missingFileReason("dockerfile", "docker/web.Dockerfile")).toBe('dockerfile: "docker/web.Dockerfile" does not exist in the repository at this commit');
  });

  it("says which commit superseded a deploy", () => {
    expect(supersededDescription(NEWER)).toBe("Superseded by fedcba9");
    expect(supersededDescription(null)).toBe("Superseded");
    expect(supersededReason(SHA, NEWER)).toBe("0123456 was not deployed: fedcba9 superseded it and deploys next.");
  });

  it("says when a run Fly.io failed tries again, and what is left after the last attempt", () => {
    const at = Date.UTC(2025, 0, 15, 14, 5);
    expect(retryNotice("Fly.io is failing (503)", at, { number: 1, of: 3 })).toBe(
      "Fly.io is failing (503); trying again at 14:05 UTC (attempt 1 of 3 failed). A push deploys at once.",
    );
    expect(lastAttemptReason("flyctl failed", { number: 3, of: 3 })).toBe("flyctl failed; attempt 3 of 3. A push or /preview redeploy tries again");
    expect(lastAttemptReason("flyctl failed", { number: 1, of: 1 })).toBe("flyctl failed. A push or /preview redeploy tries again");
  });

  it("describes the deployment of a destroyed preview by why it went", () => {
    expect(destroyedDescription("closed")).toBe("Pull request closed");
    expect(destroyedDescription("trigger")).toBe("Preview destroyed: the trigger rules no longer match");
    expect(destroyedDescription("expired")).toBe("Preview destroyed (expired)");
  });
});
