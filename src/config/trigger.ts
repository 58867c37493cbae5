import type { PreviewConfig } from "./types.js";

export interface TriggerInput {
  labels: string[];
  /** The branch the pull request merges into. */
  baseRef: string;
  draft: boolean;
}

/**
 * Whether a pull request should get a preview; when not, a reason to show the user
 * and what would let it through (`remedy`), for a preview the rules take away.
 */
export function checkTrigger(
  trigger: PreviewConfig["trigger"],
  pr: TriggerInput,
): { ok: true } | { ok: false; reason: string; remedy: string } {
  if (pr.draft && !trigger.drafts) {
    return {
      ok: false,
      reason: "draft pull requests are not previewed (set trigger.drafts: true)",
      remedy: "Mark the pull request ready for review to deploy it again.",
    };
  }
  if (trigger.branches.length > 0 && !trigger.branches.some((glob) => branchMatches(glob, pr.baseRef))) {
    return {
      ok: false,
      reason: `the base branch "${pr.baseRef}" does not match trigger.branches (${trigger.branches.join(", ")})`,
      remedy: "Change the base branch to one that trigger.branches names to deploy it again.",
    };
  }
  if (trigger.labels.length > 0) {
    // GitHub treats label names as case-insensitive, so "Preview" and "preview" are one label.
    const carried = new Set(pr.labels.map((label) => label.toLowerCase()));
    if (!trigger.labels.some((label) => carried.has(label.toLowerCase()))) {
      return {
        ok: false,
        reason: `the pull request carries none of the labels in trigger.labels (${trigger.labels.join(", ")})`,
        remedy: `Add the label ${trigger.labels.map((label) => `"${label}"`).join(" or ")} to deploy it again.`,
      };
    }
  }
  return { ok: true };
}

/**
 * Whether a base branch matches a `trigger.branches` pattern: `*` stays within one path
 * segment, `**` crosses `/`, and `**\/` may also match nothing. Matched by a table over
 * (pattern position, branch position) instead of a RegExp: a backtracking RegExp of
 * `*a*a*a…b` runs for minutes on a branch of many `a`s, blocking the server's one event
 * loop, and a fork's author chooses the base branch among the repository's branches. Here
 * the cost is the pattern's length times the branch's, whatever either holds.
 */
export function branchMatches(glob: string, branch: string): boolean {
  type Token = "star" | "globstar" | "anyDirs" | { char: string };
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith("**/", i)) {
      tokens.push("anyDirs");
      i += 2;
    } else if (glob.startsWith("**", i)) {
      tokens.push("globstar");
      i += 1;
    } else if (glob[i] === "*") tokens.push("star");
    else tokens.push({ char: glob[i] });
  }
  const n = branch.length;
  // next[j]: the tokens after the current one match branch[j..]; built from the last token back.
  let next: boolean[] = Array.from({ length: n + 1 }, (_, j) => j === n);
  for (let t = tokens.length - 1; t >= 0; t--) {
    const token = tokens[t];
    const here: boolean[] = new Array(n + 1).fill(false);
    // For `**/`: some "/" at k >= j with the rest matching branch[k+1..].
    let slashAhead = false;
    for (let j = n; j >= 0; j--) {
      if (token === "star") here[j] = next[j] || (j < n && branch[j] !== "/" && here[j + 1]);
      else if (token === "globstar") here[j] = next[j] || (j < n && here[j + 1]);
      else if (token === "anyDirs") {
        if (j < n && branch[j] === "/" && next[j + 1]) slashAhead = true;
        here[j] = next[j] || slashAhead;
      } else here[j] = j < n && branch[j] === token.char && next[j + 1];
    }
    next = here;
  }
  return next[0];
}
