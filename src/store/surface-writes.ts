import { sql, type Kysely, type Selectable } from "kysely";
import type { Database, SurfaceWritesTable } from "./schema.js";

export type SurfaceWriteRow = Selectable<SurfaceWritesTable>;

export interface WantedWrite {
  previewId: number;
  installationId: number;
  generation: number;
  surface: string;
  /** JSON of the state the surface should show. */
  state: string;
  final: boolean;
}

const CHECK = "check:%";

/**
 * The write queue's rows (see SurfaceWritesTable): what each surface should show,
 * which version was sent, and which process is sending it. None of these writes needs
 * a preview's lease: each records a fact about GitHub, true whoever writes it.
 */
export class SurfaceWrites {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
  ) {}

  /**
   * Records the newest state of a surface, replacing one not sent yet. Ignored when a
   * newer desire's run already wanted something there: a stopped run's late word never
   * overwrites its successor's.
   */
  async want(w: WantedWrite): Promise<void> {
    const now = this.clock();
    await this.db
      .insertInto("surface_writes")
      .values({
        preview_id: w.previewId,
        surface: w.surface,
        installation_id: w.installationId,
        generation: w.generation,
        state: w.state,
        final: w.final ? 1 : 0,
        version: 1,
        pending_since: now,
      })
      .onConflict((oc) =>
        oc
          .columns(["preview_id", "surface"])
          .doUpdateSet((eb) => ({
            installation_id: w.installationId,
            generation: w.generation,
            state: w.state,
            final: w.final ? 1 : 0,
            version: eb("surface_writes.version", "+", 1),
            // Still waiting: it keeps its place in the queue.
            pending_since: sql<number>`case when surface_writes.sent_version = surface_writes.version then ${now} else surface_writes.pending_since end`,
            attempts: 0,
            retry_at: null,
          }))
          .where("surface_writes.generation", "<=", w.generation),
      )
      .execute();
  }

  /**
   * Sends a surface's last wanted state again: its row becomes pending at a new version,
   * unchanged. For what the sender renders from the preview's row rather than from the
   * state (the sticky comment's expiry line), after that row changed. False when the
   * surface never had a state (nothing to say it again with).
   */
  async again(previewId: number, surface: string): Promise<boolean> {
    const now = this.clock();
    const result = await this.db
      .updateTable("surface_writes")
      .set((eb) => ({
        version: eb("version", "+", 1),
        pending_since: sql<number>`case when sent_version = version then ${now} else pending_since end`,
        attempts: 0,
        retry_at: null,
      }))
      .where("preview_id", "=", previewId)
      .where("surface", "=", surface)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async get(previewId: number, surface: string): Promise<SurfaceWriteRow | undefined> {
    return this.db.selectFrom("surface_writes").selectAll().where("preview_id", "=", previewId).where("surface", "=", surface).executeTakeFirst();
  }

  /**
   * The installation's next write to send: final states before intermediate ones, check
   * runs first within each (a person waits for the check, and the comment links to it),
   * then oldest first. An intermediate state waits `holdMs` first, in case its final
   * state follows and makes it pointless.
   */
  async next(installationId: number, holdMs: number): Promise<SurfaceWriteRow | undefined> {
    const now = this.clock();
    return this.db
      .selectFrom("surface_writes")
      .selectAll()
      .where("installation_id", "=", installationId)
      .whereRef("sent_version", "<", "version")
      .where((eb) => eb.or([eb("retry_at", "is", null), eb("retry_at", "<=", now)]))
      .where((eb) => eb.or([eb("sending_until", "is", null), eb("sending_until", "<", now)]))
      .where((eb) => eb.or([eb("final", "=", 1), eb("pending_since", "<=", now - holdMs)]))
      .orderBy("final", "desc")
      .orderBy(sql`case when surface like ${CHECK} then 0 else 1 end`)
      .orderBy("pending_since")
      .orderBy("preview_id")
      .limit(1)
      .executeTakeFirst();
  }

  /** When the installation's earliest pending write that is not ready now will be, if any. */
  async nextAt(installationId: number, holdMs: number): Promise<number | undefined> {
    const rows = await this.db
      .selectFrom("surface_writes")
      .select(["final", "pending_since", "retry_at", "sending_until"])
      .where("installation_id", "=", installationId)
      .whereRef("sent_version", "<", "version")
      .execute();
    const times = rows.map((r) => Math.max(r.final ? 0 : r.pending_since + holdMs, r.retry_at ?? 0, r.sending_until ?? 0));
    return times.length ? Math.min(...times) : undefined;
  }

  /** Installations with a write to send. */
  async installations(): Promise<number[]> {
    const rows = await this.db.selectFrom("surface_writes").select("installation_id").distinct().whereRef("sent_version", "<", "version").execute();
    return rows.map((r) => r.installation_id);
  }

  /** Takes `row` (at its version) for `sender` until `until`; false when another process has it, or it changed. */
  async claim(row: SurfaceWriteRow, sender: string, until: number): Promise<boolean> {
    const now = this.clock();
    const result = await this.db
      .updateTable("surface_writes")
      .set({ sender, sending_until: until })
      .where("preview_id", "=", row.preview_id)
      .where("surface", "=", row.surface)
      .where("version", "=", row.version)
      .where((eb) => eb.or([eb("sending_until", "is", null), eb("sending_until", "<", now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * `row`'s version reached GitHub (or was given up, `error` says why). A newer state
   * wanted meanwhile stays pending. A check run's row goes once its final state is
   * sent: a commit's check run ends once.
   */
  async sent(row: SurfaceWriteRow, sender: string): Promise<void> {
    await this.db
      .updateTable("surface_writes")
      .set({ sent_version: row.version, sender: null, sending_until: null, attempts: 0, retry_at: null })
      .where("preview_id", "=", row.preview_id)
      .where("surface", "=", row.surface)
      .where("sender", "=", sender)
      .execute();
    await this.db
      .deleteFrom("surface_writes")
      .where("preview_id", "=", row.preview_id)
      .where("surface", "=", row.surface)
      .where("surface", "like", CHECK)
      .where("final", "=", 1)
      .whereRef("sent_version", "=", "version")
      .execute();
  }

  /** Sending `row` failed: it is tried again from `retryAt`. */
  async failed(row: SurfaceWriteRow, sender: string, retryAt: number): Promise<void> {
    await this.db
      .updateTable("surface_writes")
      .set((eb) => ({ sender: null, sending_until: null, attempts: eb("attempts", "+", 1), retry_at: retryAt }))
      .where("preview_id", "=", row.preview_id)
      .where("surface", "=", row.surface)
      .where("sender", "=", sender)
      .execute();
  }

  /**
   * Forgets a surface's state if nothing was ever sent for it and no newer desire's run
   * wanted it: a run that has nothing to say there after all (its pull request closed).
   */
  async forgetUnsent(previewId: number, surface: string, generation: number): Promise<void> {
    await this.db
      .deleteFrom("surface_writes")
      .where("preview_id", "=", previewId)
      .where("surface", "=", surface)
      .where("sent_version", "=", 0)
      .where("generation", "<=", generation)
      .where((eb) => eb.or([eb("sending_until", "is", null), eb("sending_until", "<", this.clock())]))
      .execute();
  }

  /** Lets go of rows `sender` was sending (a process stopping), so another takes them at once. */
  async release(sender: string): Promise<void> {
    await this.db.updateTable("surface_writes").set({ sender: null, sending_until: null }).where("sender", "=", sender).execute();
  }

  /** Forgets every sender: only for a store one process owns (SQLite), at its start. */
  async releaseAll(): Promise<void> {
    await this.db.updateTable("surface_writes").set({ sender: null, sending_until: null }).where("sender", "is not", null).execute();
  }

  /** The installation is gone: nothing can be said on its pull requests any more. */
  async dropInstallation(installationId: number): Promise<void> {
    await this.db.deleteFrom("surface_writes").where("installation_id", "=", installationId).execute();
  }

  /** Writes still to send: of one preview, or of all. */
  async pending(previewId?: number): Promise<number> {
    let query = this.db
      .selectFrom("surface_writes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .whereRef("sent_version", "<", "version");
    if (previewId !== undefined) query = query.where("preview_id", "=", previewId);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  /** Commits of a preview whose check run was last wanted in progress: a run that ends them must say how. */
  async checksInProgress(previewId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("surface_writes")
      .select("surface")
      .where("preview_id", "=", previewId)
      .where("surface", "like", CHECK)
      .where("final", "=", 0)
      .orderBy("pending_since")
      .execute();
    return rows.map((r) => r.surface.slice("check:".length));
  }
}
