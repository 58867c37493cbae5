import type { Kysely } from "kysely";
import { previewsIn } from "./conditions.js";
import type { Database } from "./schema.js";
import type { Preview, Scope, StoreContext, SurfaceIds } from "./types.js";

// Reading previews, for anyone; and the one write to a preview's row that needs neither
// a desire nor a lease: the ids of its GitHub surfaces.

type PullRequestKey = Pick<Preview, "owner" | "repo" | "number">;

/** Every row of a pull request, in `db` (a transaction or not): its own (app key "") and those of the apps of its `apps:` block. */
function rowsOf(db: Kysely<Database>, pr: PullRequestKey) {
  return db.selectFrom("previews").where("owner", "=", pr.owner).where("repo", "=", pr.repo).where("number", "=", pr.number);
}

/** The rows of the apps of a pull request's `apps:` block, not its own: select what you need of them. */
export function appRowsOf(db: Kysely<Database>, pr: PullRequestKey) {
  return rowsOf(db, pr).where("app_key", "!=", "");
}

/** The pull request's own row (app key ""), or with `appKey` the row of that app of its `apps:` block. */
export async function get(s: StoreContext, owner: string, repo: string, number: number, appKey = ""): Promise<Preview | undefined> {
  return rowsOf(s.db, { owner, repo, number }).selectAll().where("app_key", "=", appKey).executeTakeFirst();
}

/** The rows of the apps of a pull request's `apps:` block (not its own row), by app key. */
export async function appsOf(s: StoreContext, owner: string, repo: string, number: number): Promise<Preview[]> {
  return appRowsOf(s.db, { owner, repo, number }).selectAll().orderBy("app_key").execute();
}

export async function getById(s: StoreContext, id: number): Promise<Preview | undefined> {
  return s.db.selectFrom("previews").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Every preview the store knows, newest first; `repo` as "owner/name" narrows it. */
export async function list(s: StoreContext, filter: { repo?: string } = {}): Promise<Preview[]> {
  let query = s.db.selectFrom("previews").selectAll().orderBy("updated_at", "desc").orderBy("id", "desc");
  if (filter.repo) {
    const [owner, repo] = filter.repo.split("/");
    query = query.where("owner", "=", owner).where("repo", "=", repo);
  }
  return query.execute();
}

/** Another preview holding the same Fly app name (names fold case and punctuation, so two repositories can meet). */
export async function sameAppName(s: StoreContext, appName: string, exceptId: number): Promise<Preview | undefined> {
  return s.db
    .selectFrom("previews")
    .selectAll()
    .where("app_name", "=", appName)
    .where("id", "!=", exceptId)
    .where("app_created", "=", 1)
    .executeTakeFirst();
}

/** Previews in scope that hold a Fly app and are meant to keep it, other than `exceptId`. */
export async function countActive(s: StoreContext, scope: Scope, exceptId: number): Promise<number> {
  const row = await previewsIn(s, scope)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("app_created", "=", 1)
    .where("desired_action", "=", "deploy")
    .where("id", "!=", exceptId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The installation's previews past a limit, oldest desire first: the next to deploy when a slot frees. */
export async function waitingForSlot(s: StoreContext, installationId: number): Promise<Preview[]> {
  return previewsIn(s, { installationId })
    .selectAll()
    .where("status", "=", "limited")
    .where("desired_action", "=", "deploy")
    .orderBy("desired_at")
    .execute();
}

/**
 * The ids GitHub gave a preview's surfaces (comment, check run, deployment). Written by
 * the write queue, which holds no lease: like the open check runs, they record what
 * exists on GitHub, true whoever writes them.
 */
export async function saveSurfaceIds(s: StoreContext, id: number, patch: SurfaceIds): Promise<void> {
  await s.db.updateTable("previews").set(patch).where("id", "=", id).execute();
}
