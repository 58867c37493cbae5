import type { Logger } from "probot";
import { FlyError, type Flyctl } from "../fly/index.js";
import { internalErrorReason } from "../github/messages.js";
import type { Octokit } from "../github/octokit.js";
import { SecretsError, type SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import type { Preview, PreviewPatch, Store } from "../store/store.js";
import { SourceError } from "./source.js";
import type { Wanted, WantedCheck } from "./surfaces.js";
import type { WriteQueue } from "./write-queue.js";
import type { Metrics } from "../metrics/metrics.js";
import { DatabaseError } from "../database/errors.js";

// What the deploy and destroy runs share: their deps, the run itself, and the ways they end.

export interface ReconcileDeps {
  /** This GitHub App's id: it finds our sticky comment among other Apps' (see upsertComment). */
  appId: number;
  store: Store;
  settings: Settings;
  flyctl: Flyctl;
  github: (installationId: number) => Promise<Octokit>;
  /** Per-repository secret values; without it, a config that names secrets fails. */
  secrets?: SecretStore;
  log: Logger;
  fetch?: typeof fetch;
  clock?: () => number;
  healthIntervalMs?: number;
  /** Counts deploys and times their steps (src/metrics/); absent in tests that do not look. */
  metrics?: Metrics;
}

/** A run's deps: the pool adds its write queue, where runs say what GitHub should show. */
export type RunDeps = ReconcileDeps & { writes: Pick<WriteQueue, "want" | "resend"> };

/** Where a run stands in the pool's schedule of attempts at one desire. */
export interface Attempt {
  /** This run's place, from 1. */
  number: number;
  of: number;
  /** How long the pool waits before the next attempt; absent on the last. */
  retryInMs?: number;
}

/**
 * A deploy that Fly.io failed for a passing reason, with an attempt left: GitHub
 * already says when it tries again, and the pool schedules it for `at`.
 */
export class RetryLater extends Error {
  constructor(
    readonly at: number,
    problem: string,
  ) {
    super(problem);
  }
}

/** Why a run was stopped: the preview was given a newer desire (a push, a close). */
export class Superseded extends Error {
  constructor(readonly newer: Preview) {
    super("superseded");
  }
}

/** One claimed desire being carried out. */
export interface Run {
  preview: Preview;
  sha: string;
  /** For reads (config, tarball); writes go through `show`. */
  octokit: Octokit;
  /** Says what a surface should show: queued, never awaited on GitHub. */
  show: (wanted: Wanted) => Promise<void>;
  /** The desire generation this run carries out. */
  generation: number;
  save: (patch: PreviewPatch) => Promise<void>;
  finish: (patch: PreviewPatch) => Promise<void>;
  /**
   * The command this run carries out (its comment) was passed on to the apps of the pull
   * request in the store (src/store/apps.ts): `finish` leaves its answer to their runs.
   */
  commandPassedOn: () => void;
  signal: AbortSignal;
  deps: RunDeps;
  /** This run's flyctl: its logger carries the preview, its redactor the run's secrets. */
  flyctl: Flyctl;
  log: Logger;
  clock: () => number;
  attempt: Attempt;
}

/** A deploy that cannot go on, for a reason its message gives the user. */
export class DeployFailure extends Error {}

/** The one-line reason an error ended a run with. */
export function describe(error: unknown): string {
  if (error instanceof FlyError || error instanceof SourceError || error instanceof DatabaseError) return error.reason;
  if (error instanceof DeployFailure || error instanceof SecretsError) return error.message;
  return internalErrorReason(error instanceof Error ? error.message : String(error));
}

/**
 * Ends the check runs earlier runs of this preview left in progress (they died, or
 * were stopped before their last word), each as `end(itsSha)` says; undefined leaves
 * one as it is (this run carries it on). One never created is never created.
 */
export async function endOpenChecks(
  preview: Preview,
  deps: RunDeps,
  show: (wanted: Wanted) => Promise<void>,
  end: (sha: string) => Pick<WantedCheck, "conclusion" | "output"> | undefined,
): Promise<void> {
  const open = new Set([...(await deps.store.openCheckRuns(preview.id)), ...(await deps.store.surfaceWrites.checksInProgress(preview.id))]);
  for (const sha of open) {
    const how = end(sha);
    if (how) await show({ surface: "check", state: { sha, ...how, ifOpen: true } });
  }
}

/**
 * Where a run's wants go. An app of an `apps:` block has no comment of its own: its pull
 * request's comment is sent again, and renders every app's row from the store.
 */
export function showFor(preview: Preview, generation: number, deps: RunDeps): (wanted: Wanted) => Promise<void> {
  return async (wanted) => {
    if (wanted.surface === "comment" && preview.app_key !== "") await resendPullRequestComment(preview, deps);
    else await deps.writes.want(preview, generation, wanted);
  };
}

/** The comment of the pull request an app belongs to, sent again with what the store says now. */
export async function resendPullRequestComment(app: Preview, deps: RunDeps): Promise<void> {
  const pr = await deps.store.get(app.owner, app.repo, app.number);
  if (pr) await deps.writes.resend(pr, "comment");
}

/** A slot freed: previews waiting for one try again (the first to run takes it). */
export async function offerFreedSlot(store: Store, installationId: number): Promise<void> {
  for (const waiting of await store.waitingForSlot(installationId)) await store.redesire(waiting.id);
}
