import { Kysely, Migrator, sql, type ColumnDefinitionBuilder, type Migration } from "kysely";

export type Dialect = "sqlite" | "postgres";

// Migrations live in code (not files on disk) so the compiled dist/ and the tests
// run exactly the same list. Never edit a migration that has shipped: add a new one.
// The one dialect difference in them is how an id counts up.
export const migrationsFor = (dialect: Dialect): Record<string, Migration> => {
  const serialId = (c: ColumnDefinitionBuilder) =>
    dialect === "postgres" ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement();
  return {
  "0001_previews": {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("previews")
        .addColumn("id", "integer", serialId)
        .addColumn("installation_id", "bigint", (c) => c.notNull())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("repo", "text", (c) => c.notNull())
        .addColumn("number", "integer", (c) => c.notNull())
        .addColumn("app_name", "text", (c) => c.notNull())
        .addColumn("head_sha", "text", (c) => c.notNull())
        .addColumn("head_ref", "text", (c) => c.notNull())
        .addColumn("base_ref", "text", (c) => c.notNull())
        .addColumn("draft", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("labels", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("desired_action", "text", (c) => c.notNull())
        .addColumn("desired_sha", "text")
        .addColumn("desired_generation", "integer", (c) => c.notNull())
        .addColumn("desired_at", "bigint", (c) => c.notNull())
        .addColumn("observed_generation", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("status_at", "bigint", (c) => c.notNull())
        .addColumn("deployed_sha", "text")
        .addColumn("url", "text")
        .addColumn("app_created", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("last_error", "text")
        .addColumn("comment_id", "bigint")
        .addColumn("comment_body_hash", "text")
        .addColumn("check_run_id", "bigint")
        .addColumn("check_run_sha", "text")
        .addColumn("deployment_id", "bigint")
        .addColumn("deployment_sha", "text")
        .addColumn("config_ttl_ms", "bigint")
        .addColumn("config_max_previews", "integer")
        .addColumn("lease_owner", "text")
        .addColumn("lease_expires_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("previews_pr", ["owner", "repo", "number"])
        .execute();
      await db.schema
        .createIndex("previews_pending")
        .on("previews")
        .columns(["desired_generation", "observed_generation", "lease_expires_at"])
        .execute();
      await db.schema
        .createTable("deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0002_commands": {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable("previews")
        .addColumn("paused", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("previews").addColumn("destroyed_by", "text").execute();
      await db.schema.alterTable("previews").addColumn("desired_by", "text").execute();
      await db.schema.alterTable("previews").addColumn("command_comment_id", "bigint").execute();
      await db.schema.alterTable("previews").addColumn("image_sha", "text").execute();
      await db.schema
        .createTable("commands")
        .addColumn("id", "integer", serialId)
        .addColumn("installation_id", "bigint", (c) => c.notNull())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("repo", "text", (c) => c.notNull())
        .addColumn("number", "integer", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("comment_id", "bigint")
        .addColumn("sender", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("lease_owner", "text")
        .addColumn("lease_expires_at", "bigint")
        .addColumn("done_at", "bigint")
        .addColumn("outcome", "text")
        .execute();
      await db.schema.createIndex("commands_pending").on("commands").columns(["done_at", "lease_expires_at"]).execute();
    },
  },
  "0003_forks_secrets_limits": {
    async up(db: Kysely<any>) {
      await db.schema.alterTable("previews").addColumn("fork", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("previews").addColumn("approved_sha", "text").execute();
      await db.schema.alterTable("previews").addColumn("activity_at", "bigint").execute();
      await db.schema.alterTable("previews").addColumn("quiet", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("previews").addColumn("destroy_reason", "text").execute();
      await db.schema
        .createTable("secrets")
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("repo", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("secrets_pk", ["owner", "repo", "name"])
        .execute();
      await db.schema
        .createTable("meta")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0004_desire_token": {
    async up(db: Kysely<any>) {
      // Written with each new desire from a webhook, so one upsert can tell whether it changed the desire.
      await db.schema.alterTable("previews").addColumn("desire_token", "text").execute();
    },
  },
  "0005_retries": {
    async up(db: Kysely<any>) {
      // A run that failed for a passing reason (GitHub or the network) is tried again later.
      await db.schema.alterTable("previews").addColumn("retry_generation", "integer").execute();
      await db.schema.alterTable("previews").addColumn("retry_attempts", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("previews").addColumn("retry_at", "bigint").execute();
    },
  },
  "0006_commands_hardening": {
    async up(db: Kysely<any>) {
      // The commit an approval approves, and retries of commands that met a passing failure.
      await db.schema.alterTable("commands").addColumn("head_sha", "text").execute();
      await db.schema.alterTable("commands").addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("commands").addColumn("retry_at", "bigint").execute();
    },
  },
  "0007_app_owner": {
    async up(db: Kysely<any>) {
      // The row that created (or was about to create) its Fly app: the only one the
      // reaper may sweep that app for. Two repositories can fold to one app name.
      await db.schema.alterTable("previews").addColumn("app_owner", "integer", (c) => c.notNull().defaultTo(0)).execute();
      // Rows from before: one that holds an app or ever deployed created its app; a row
      // refused because another preview held the name did neither.
      await db.updateTable("previews").set({ app_owner: 1 }).where((eb) => eb.or([eb("app_created", "=", 1), eb("deployed_sha", "is not", null)])).execute();
    },
  },
  "0008_check_runs": {
    async up(db: Kysely<any>) {
      // The commits of a preview whose check run may still be in progress on GitHub:
      // written before the check run is created, deleted once it has ended, so one
      // left behind by a run that died is found and ended by the next run.
      await db.schema
        .createTable("open_check_runs")
        .addColumn("preview_id", "integer", (c) => c.notNull())
        .addColumn("sha", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("open_check_runs_pk", ["preview_id", "sha"])
        .execute();
      // Before this table, only the last check run was known: it may still be open.
      await db
        .insertInto("open_check_runs")
        .columns(["preview_id", "sha", "created_at"])
        .expression(db.selectFrom("previews").select(["id", "check_run_sha", "updated_at"]).where("check_run_sha", "is not", null))
        .execute();
    },
  },
  "0009_write_pace": {
    async up(db: Kysely<any>) {
      // When each installation may next write to GitHub, shared by every process so
      // the whole deployment keeps GitHub's one-write-a-second pace (docs/scaling.md).
      await db.schema
        .createTable("write_pace")
        .addColumn("installation_id", "bigint", (c) => c.primaryKey())
        .addColumn("next_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0010_surface_writes": {
    async up(db: Kysely<any>) {
      // The installation-wide write queue, derived from the store so that a write queued
      // when a process dies is sent after restart (docs/architecture.md, "GitHub writes").
      await db.schema
        .createTable("surface_writes")
        .addColumn("preview_id", "integer", (c) => c.notNull())
        .addColumn("surface", "text", (c) => c.notNull())
        .addColumn("installation_id", "bigint", (c) => c.notNull())
        .addColumn("generation", "integer", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("final", "integer", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("sent_version", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("pending_since", "bigint", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("retry_at", "bigint")
        .addColumn("sender", "text")
        .addColumn("sending_until", "bigint")
        .addPrimaryKeyConstraint("surface_writes_pk", ["preview_id", "surface"])
        .execute();
      await db.schema.createIndex("surface_writes_installation").on("surface_writes").columns(["installation_id", "sent_version", "version"]).execute();
      await db.schema.alterTable("previews").addColumn("check_run_url", "text").execute();
    },
  },
  "0011_preview_databases": {
    async up(db: Kysely<any>) {
      // Each database made for a preview, recorded before it is made, so the sweep finds
      // one a crash left behind, and never touches one fly-preview did not make.
      await db.schema
        .createTable("preview_databases")
        .addColumn("provider", "text", (c) => c.notNull())
        .addColumn("home", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("preview_id", "integer", (c) => c.notNull())
        .addColumn("parent", "text")
        .addColumn("secret_name", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("ready_at", "bigint")
        .addColumn("dropped_at", "bigint")
        .addPrimaryKeyConstraint("preview_databases_pk", ["provider", "home", "name"])
        .execute();
      await db.schema.createIndex("preview_databases_preview").on("preview_databases").column("preview_id").execute();
      await db.schema.alterTable("previews").addColumn("reset_db", "integer", (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  "0012_hooks": {
    async up(db: Kysely<any>) {
      // `/preview redeploy --fresh`: build from source without the registry's image, then postdeploy again.
      await db.schema.alterTable("previews").addColumn("fresh", "integer", (c) => c.notNull().defaultTo(0)).execute();
      // When hooks.postdeploy last succeeded for this app; null: it runs after the next deploy that is up.
      await db.schema.alterTable("previews").addColumn("postdeploy_at", "bigint").execute();
      // The predestroy hook of the last deploy that was up (JSON), run before the app is destroyed.
      await db.schema.alterTable("previews").addColumn("predestroy_hook", "text").execute();
    },
  },
  "0013_expiry": {
    async up(db: Kysely<any>) {
      // What people asked about a preview's expiry (`/preview pin`, `/preview extend`),
      // the expiry a reminder was last sent for (one per expiry), and whether
      // .preview.yml wants that reminder as a new comment (`notify: comment`), remembered
      // at deploy like the TTL: the reaper reads no .preview.yml. One column per
      // statement: SQLite adds one at a time.
      const columns: Array<[string, "text" | "bigint"]> = [
        ["pinned_by", "text"],
        ["pinned_at", "bigint"],
        ["extended_until", "bigint"],
        ["extended_by", "text"],
        ["extended_ms", "bigint"],
        ["reminded_for", "bigint"],
      ];
      for (const [name, type] of columns) await db.schema.alterTable("previews").addColumn(name, type).execute();
      await db.schema.alterTable("previews").addColumn("notify_comment", "integer", (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  "0014_machine_size": {
    async up(db: Kysely<any>) {
      // The size of the machine the last successful deploy runs on: what `fly-preview
      // list` prices, without the .preview.yml it came from.
      await db.schema.alterTable("previews").addColumn("machine_cpu_kind", "text").execute();
      await db.schema.alterTable("previews").addColumn("machine_cpus", "integer").execute();
      await db.schema.alterTable("previews").addColumn("machine_memory_mb", "integer").execute();
    },
  },
  "0015_app_key": {
    async up(db: Kysely<any>) {
      // Several apps per pull request (docs/monorepos.md): the pull request's own row keeps
      // app_key "", and each app of an `apps:` block gets a row of its own, keyed by its
      // name. So a pull request is unique by its app key too.
      await db.schema.alterTable("previews").addColumn("app_key", "text", (c) => c.notNull().defaultTo("")).execute();
      if (dialect === "postgres") {
        await db.schema.alterTable("previews").dropConstraint("previews_pr").execute();
        await db.schema.alterTable("previews").addUniqueConstraint("previews_pr", ["owner", "repo", "number", "app_key"]).execute();
        return;
      }
      // SQLite cannot drop a table's constraint: the table is made again with the new one
      // (sqlite.org/lang_altertable.html, "other kinds of table schema changes"). There are
      // no foreign keys to it, and one index.
      const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'previews'`.execute(db);
      const old = /constraint "previews_pr" unique \("owner", "repo", "number"\)/;
      if (!old.test(rows[0].sql)) throw new Error(`0015_app_key: the previews table's unique constraint is not the one 0001 made: ${rows[0].sql}`);
      const created = rows[0]
        .sql.replace(old, 'constraint "previews_pr" unique ("owner", "repo", "number", "app_key")')
        .replace(/^create table "previews"/i, 'create table "previews_new"');
      await sql.raw(created).execute(db);
      await sql`insert into previews_new select * from previews`.execute(db);
      await db.schema.dropTable("previews").execute();
      await db.schema.alterTable("previews_new").renameTo("previews").execute();
      await db.schema.createIndex("previews_pending").on("previews").columns(["desired_generation", "observed_generation", "lease_expires_at"]).execute();
    },
  },
  "0016_command_app": {
    async up(db: Kysely<any>) {
      // The app of an `apps:` block a command acts on: the one whose check run's button was
      // pressed. Null: the whole pull request (or the app its comment names).
      await db.schema.alterTable("commands").addColumn("app_key", "text").execute();
    },
  },
  "0017_app_config_hash": {
    async up(db: Kysely<any>) {
      // What an app of an `apps:` block last deployed with (src/preview/app-config.ts): a
      // push that leaves its paths alone rebuilds it when its config changed, releases its
      // image again when only its env did, and otherwise leaves it as it is.
      await db.schema.alterTable("previews").addColumn("config_hash", "text").execute();
      await db.schema.alterTable("previews").addColumn("env_hash", "text").execute();
      // How long its last successful deploy's flyctl took: the apps' comment shows it.
      await db.schema.alterTable("previews").addColumn("build_ms", "bigint").execute();
    },
  },
  "0018_database_user": {
    async up(db: Kysely<any>) {
      // A Fly Postgres user of a database the row does not own: an app of an `apps:` block
      // has its own user on its pull request's shared database, which this names. Dropping
      // the row's record drops the user only. Null: a database of the row's own.
      await db.schema.alterTable("preview_databases").addColumn("on_database", "text").execute();
    },
  },
  };
};

/**
 * Brings the schema up to date. Safe when several processes start at once: kysely's
 * Migrator holds a lock while it migrates (a PostgreSQL advisory lock; SQLite's write
 * lock), and the others then find nothing left to do.
 */
export async function migrate(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const migrations = migrationsFor(dialect);
  const { error, results } = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    const why = error instanceof Error ? error.message : String(error ?? "unknown error");
    throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${why}`);
  }
}
