import type { CheckAction, CheckConclusion, CheckOutput } from "../github/check-run.js";
import type { DeploymentState } from "../github/deployment.js";
import type { Preview } from "../store/store.js";
import type { WantedWrite } from "../store/surface-writes.js";
import type { Reporter, WantedComment, WantedNotice } from "./reporter.js";

/**
 * What a run wants one GitHub surface of its preview to show. These are data, not
 * calls: the write queue keeps them in the store (surface_writes) and sends the newest
 * one of each surface when the installation's write lane has room, whichever process
 * that is and however long after the run.
 */
export type Wanted =
  | { surface: "check"; state: WantedCheck }
  | { surface: "deployment"; state: WantedDeployment }
  | { surface: "comment"; state: WantedComment }
  /** A comment of its own, posted once: the reminder before expiry under `notify: comment`. */
  | { surface: "notice"; state: WantedNotice };

export interface WantedCheck {
  sha: string;
  output: CheckOutput;
  /** Absent: in progress. */
  conclusion?: CheckConclusion;
  actions?: CheckAction[];
  /**
   * Only ends a check run that may be in progress; a commit whose check run was never
   * created gets none (a superseded commit GitHub never heard of stays unmentioned).
   */
  ifOpen?: boolean;
}

export interface WantedDeployment {
  /** The commit deployed; null: whichever deployment the preview has (a destroy). */
  sha: string | null;
  /** `pending`: created, with no status of its own. */
  state: "pending" | DeploymentState;
  environmentUrl?: string;
  description?: string;
}

/**
 * The queue's key of a surface: one check run per commit, one deployment, one sticky
 * comment and one notice per pull request (a newer notice replaces one not sent yet).
 */
export function surfaceKey(wanted: Wanted): string {
  return wanted.surface === "check" ? `check:${wanted.state.sha}` : wanted.surface;
}

/** Whether the state is what a person waits for (an outcome), not a step on the way. */
export function isFinal(wanted: Wanted): boolean {
  switch (wanted.surface) {
    case "check":
      return wanted.state.conclusion !== undefined;
    case "deployment":
      return wanted.state.state !== "pending";
    case "comment":
      return wanted.state.status !== "building";
    case "notice":
      return true;
  }
}

/** The write queue's row for what a surface of `preview` should show, for the run of `generation`. */
export function wantedWrite(preview: Preview, generation: number, wanted: Wanted): WantedWrite {
  return {
    previewId: preview.id,
    installationId: preview.installation_id,
    generation,
    surface: surfaceKey(wanted),
    state: JSON.stringify(wanted.state),
    final: isFinal(wanted),
  };
}

export function parseWanted(surface: string, state: string): Wanted {
  const kind = surface.startsWith("check:") ? "check" : surface;
  if (kind !== "check" && kind !== "deployment" && kind !== "comment" && kind !== "notice") throw new Error(`unknown surface "${surface}"`);
  return { surface: kind, state: JSON.parse(state) } as Wanted;
}

/** Writes the state to GitHub, creating the surface when it does not exist yet. */
export async function sendWanted(reporter: Reporter, wanted: Wanted): Promise<void> {
  switch (wanted.surface) {
    case "check": {
      const { sha, output, conclusion, actions, ifOpen } = wanted.state;
      if (conclusion === undefined) await reporter.startCheck(sha, output);
      else if (ifOpen) await reporter.endOpenCheck(sha, conclusion, output);
      else await reporter.completedCheck(sha, conclusion, output, actions);
      return;
    }
    case "deployment": {
      const { sha, state, ...extra } = wanted.state;
      if (state === "pending") await reporter.startDeployment(sha!);
      else if (sha === null) await reporter.deploymentState(state, extra);
      else await reporter.endDeployment(sha, state, extra);
      return;
    }
    case "comment":
      await reporter.comment(wanted.state);
      return;
    case "notice":
      await reporter.notice(wanted.state);
  }
}
