// The record of databases made for previews: written before the provider is asked, so a
// sweep finds what a crash left, and never offers a database fly-preview did not make.
import { afterEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../src/store/store.js";
import { DIALECTS, type TestDatabase } from "./databases.js";
import { helloWorldPr } from "./harness.js";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

async function store(database: TestDatabase): Promise<Store> {
  const created = await database.create();
  const opened = await openStore(created.url);
  cleanups.push(() => created.drop(), () => opened.close());
  return opened;
}

const branch = (n: number) => ({ provider: "neon" as const, home: "proud-fog-123456", name: `preview/pr-${n}` });

/** Carries the preview's destroy desire out, as a worker would. */
async function destroyed(s: Store, number: number) {
  await s.desireDestroy("Codertocat", "Hello-World", number);
  const claim = (await s.claim("w", 60_000, 0))!;
  await s.finish(claim.preview.id, "w", claim.generation, { status: "destroyed" });
}

describe.each(DIALECTS)("the databases made for previews, on $dialect", (database) => {
  it("is recorded before it is made, found by its preview, and swept only once its preview is destroyed", async () => {
    const s = await store(database);
    await s.desireDeploy(helloWorldPr(2));
    const preview = (await s.get("Codertocat", "Hello-World", 2))!;

    await s.databaseWanted(preview.id, { ...branch(2), parent: "main" });
    // Asked for, not confirmed: a crash here leaves this row for the sweep.
    expect(await s.databaseOf(preview.id)).toMatchObject({ ...branch(2), parent: "main", readyAt: null });
    await s.databaseReady(branch(2));
    expect((await s.databaseOf(preview.id))?.readyAt).toEqual(expect.any(Number));
    // A live preview's database is not swept.
    expect(await s.databasesToSweep()).toEqual([]);

    await destroyed(s, 2);
    expect((await s.databasesToSweep()).map((d) => d.name)).toEqual(["preview/pr-2"]);
    await s.databaseDropped(branch(2));
    expect(await s.databasesToSweep()).toEqual([]);
    expect(await s.databaseOf(preview.id)).toBeUndefined();
  });

  it("a destroyed preview brought back by a push is not swept while its new desire waits", async () => {
    const s = await store(database);
    await s.desireDeploy(helloWorldPr(3));
    const preview = (await s.get("Codertocat", "Hello-World", 3))!;
    await s.databaseWanted(preview.id, { ...branch(3), parent: null });
    await destroyed(s, 3);
    await s.desireDeploy({ ...helloWorldPr(3), headSha: "b".repeat(40) });
    expect(await s.databasesToSweep()).toEqual([]);
  });

  it("the same name made again after a drop is one live record, not two", async () => {
    const s = await store(database);
    await s.desireDeploy(helloWorldPr(4));
    const preview = (await s.get("Codertocat", "Hello-World", 4))!;
    await s.databaseWanted(preview.id, { ...branch(4), parent: "main" });
    await s.databaseDropped(branch(4));
    await s.databaseWanted(preview.id, { ...branch(4), parent: "main" });
    expect(await s.databaseOf(preview.id)).toMatchObject(branch(4));
    await destroyed(s, 4);
    expect(await s.databasesToSweep()).toHaveLength(1);
  });

  it("is never handed to another preview while its holder's record is live; once dropped, it may be", async () => {
    const s = await store(database);
    await s.desireDeploy(helloWorldPr(5));
    await s.desireDeploy({ ...helloWorldPr(5), repo: "Other", appName: "pr-5-codertocat-other" });
    const holder = (await s.get("Codertocat", "Hello-World", 5))!;
    const other = (await s.get("Codertocat", "Other", 5))!;
    expect(await s.databaseWanted(holder.id, { ...branch(5), parent: "main" })).toBe(true);
    // Two repositories naming the same Neon project both want preview/pr-5.
    expect(await s.databaseWanted(other.id, { ...branch(5), parent: "staging", secretName: "OTHER_KEY" })).toBe(false);
    expect(await s.databaseOf(holder.id)).toMatchObject({ ...branch(5), parent: "main", secretName: null });
    expect(await s.databaseOf(other.id)).toBeUndefined();
    // Asked again by its holder: still its own.
    expect(await s.databaseWanted(holder.id, { ...branch(5), parent: "main" })).toBe(true);

    await s.databaseDropped(branch(5));
    expect(await s.databaseWanted(other.id, { ...branch(5), parent: "staging" })).toBe(true);
    expect(await s.databaseOf(other.id)).toMatchObject(branch(5));
    expect(await s.databaseOf(holder.id)).toBeUndefined();
  });

  it("keeps an app's Fly Postgres user with the shared database it is on, and lists every live database of a preview, newest first", async () => {
    let now = 1_000;
    const created = await database.create();
    const s = await openStore(created.url, () => now);
    cleanups.push(() => created.drop(), () => s.close());
    await s.desireDeploy(helloWorldPr(5));
    const preview = (await s.get("Codertocat", "Hello-World", 5))!;
    const on = (name: string) => ({ provider: "fly_postgres" as const, home: "acme-preview-db", name });
    await s.databaseWanted(preview.id, { ...on("pr_5_codertocat_hello_world"), parent: "acme-preview-db" });
    now += 1_000;
    await s.databaseWanted(preview.id, { ...on("pr_5_api_codertocat_hello_world"), parent: "acme-preview-db", onDatabase: "pr_5_codertocat_hello_world_apps__0123abcd" });
    expect((await s.databasesOf(preview.id)).map((d) => [d.name, d.onDatabase])).toEqual([
      ["pr_5_api_codertocat_hello_world", "pr_5_codertocat_hello_world_apps__0123abcd"],
      ["pr_5_codertocat_hello_world", null],
    ]);
    expect((await s.databaseOf(preview.id))?.name).toBe("pr_5_api_codertocat_hello_world");
    await s.databaseDropped(on("pr_5_api_codertocat_hello_world"));
    await destroyed(s, 5);
    // The sweep learns which is a user: dropping it must leave the database it is on.
    await s.databaseWanted(preview.id, { ...on("pr_5_api_codertocat_hello_world"), parent: "acme-preview-db", onDatabase: "pr_5_codertocat_hello_world_apps__0123abcd" });
    expect((await s.databasesToSweep()).map((d) => [d.name, d.onDatabase]).sort()).toEqual([
      ["pr_5_api_codertocat_hello_world", "pr_5_codertocat_hello_world_apps__0123abcd"],
      ["pr_5_codertocat_hello_world", null],
    ]);
  });
});
