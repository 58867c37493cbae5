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
  if (trigger.branches.length > 0 && !trigger.branches.some((glob) => globToRegExp(glob).test(pr.baseRef))) {
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

/** `*` stays within one path segment, `**` crosses `/`, and `**\/` may also match nothing. */
function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith("**/", i)) {
      source += "(?:.*/)?";
      i += 2;
    } else if (glob.startsWith("**", i)) {
      source += ".*";
      i += 1;
    } else if (glob[i] === "*") {
      source += "[^/]*";
    } else {
      source += glob[i].replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}
