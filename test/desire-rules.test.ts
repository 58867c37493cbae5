// The webhook's hot path restates the desire rules in SQL (src/store/webhook-desire.ts,
// one variant per dialect); `Store.desireDeploy` states them in TypeScript. Every
// pull_request event the handlers record, from every state a preview can be in, goes
// through the real handlers twice: on one store through the hot path, on another
// through the TypeScript rules. The two must leave the same row and say the same thing.
import type { Probot } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handledEvents } from "../src/handlers/outcomes.js";
import { registerPullRequestHandlers } from "../src/handlers/pull-request.js";
import { openStore, type PullRequestInfo, type Store } from "../src/store/store.js";
import { DIALECTS } from "./databases.js";
import { prInfo, pullRequest } from "./harness.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

/** The PR the fixtures describe (Codertocat/Hello-World), at commit A unless told. */
const fixturePr = (number: number, over: Partial<PullRequestInfo> = {}) =>
  prInfo({ owner: "Codertocat", repo: "Hello-World", number, appName: `pr-${number}-codertocat-hello-world`, headRef: "changes", ...over });

/** Writes what a worker would have observed after carrying out the current desire. */
async function observed(store: Store, number: number, patch: { status: "ready" | "skipped" | "failed" | "destroyed"; app_created: number }) {
  const row = (await store.get("Codertocat", "Hello-World", number))!;
  const deployed = patch.status === "ready" ? { deployed_sha: row.desired_sha } : {};
  await store.db
    .updateTable("previews")
    .set({ ...patch, ...deployed, observed_generation: row.desired_generation })
    .where("id", "=", row.id)
    .execute();
}

/** States a preview can be in when an event comes, each reached through the store's API. */
const STATES: Record<string, ((store: Store, number: number) => Promise<void>) | undefined> = {
  "not recorded": undefined,
  "a desire waiting for a worker": async (store, n) => {
    await store.desireDeploy(fixturePr(n));
  },
  "ready": async (store, n) => {
    await store.desireDeploy(fixturePr(n));
    await observed(store, n, { status: "ready", app_created: 1 });
  },
  "skipped by the trigger rules": async (store, n) => {
    await store.desireDeploy(fixturePr(n, { draft: true }));
    await observed(store, n, { status: "skipped", app_created: 0 });
  },
  "failed": async (store, n) => {
    await store.desireDeploy(fixturePr(n));
    await observed(store, n, { status: "failed", app_created: 0 });
  },
  "redeployed by a command": async (store, n) => {
    await store.desireDeploy(fixturePr(n), { by: "mo", commentId: 5 });
    await observed(store, n, { status: "ready", app_created: 1 });
  },
  "being destroyed (closed)": async (store, n) => {
    await STATES["ready"]!(store, n);
    await store.desireDestroy("Codertocat", "Hello-World", n);
  },
  "destroyed (closed)": async (store, n) => {
    await STATES["being destroyed (closed)"]!(store, n);
    await observed(store, n, { status: "destroyed", app_created: 0 });
  },
  "paused by a destroy command": async (store, n) => {
    await STATES["ready"]!(store, n);
    await store.desireDestroy("Codertocat", "Hello-World", n, { reason: "command", by: "mo", commentId: 9 });
    await observed(store, n, { status: "destroyed", app_created: 0 });
  },
  "destroyed quietly (the App lost the repository)": async (store, n) => {
    await STATES["ready"]!(store, n);
    await store.desireDestroy("Codertocat", "Hello-World", n, { reason: "uninstalled" });
    await observed(store, n, { status: "destroyed", app_created: 0 });
  },
};

type Action = Parameters<typeof pullRequest>[0];

/** Every pull_request action, with the PR as such an event describes it. */
const EVENTS: Array<[Action, { sha: string; labels?: string[]; draft?: boolean }]> = [
  ["opened", { sha: A }],
  ["synchronize", { sha: B }],
  ["synchronize", { sha: A }],
  ["reopened", { sha: A }],
  ["reopened", { sha: B }],
  ["ready_for_review", { sha: A, draft: false }],
  ["labeled", { sha: A, labels: ["preview"] }],
  ["labeled", { sha: B, labels: ["preview"] }],
  ["unlabeled", { sha: A, labels: [] }],
  ["converted_to_draft", { sha: A, draft: true }],
  ["converted_to_draft", { sha: B, draft: true }],
  ["closed", { sha: A }],
];

type Handler = (context: unknown) => Promise<void>;

/** The real pull_request handlers over `store`; `deliver` runs one event and says whether it woke the workers. */
function handlersOver(store: Store) {
  let hook: Handler | undefined;
  const app = { onAny: (handler: Handler) => (hook = handler) } as unknown as Probot;
  let woke = false;
  registerPullRequestHandlers(app, { store, wake: () => (woke = true) });
  return {
    actions: handledEvents(app),
    async deliver(id: string, payload: { action: string }): Promise<boolean> {
      woke = false;
      const log = { info: () => undefined };
      await hook!({ id, name: "pull_request", payload, log });
      return woke;
    },
  };
}

/** The store as the handlers see it, with the webhook's desire recorded by the TypeScript rules instead of the hot path. */
function throughTypeScriptRules(store: Store): Store {
  const calls: Partial<Store> = {
    desireDeployOnce: async (deliveryId, pr) => ((await store.firstDelivery(deliveryId)) ? store.desireDeploy(pr) : undefined),
    recheck: (...args) => store.recheck(...args),
    firstDelivery: (...args) => store.firstDelivery(...args),
    desireDestroy: (...args) => store.desireDestroy(...args),
  };
  return calls as Store;
}

/** A row as both paths must leave it. */
async function row(store: Store, number: number) {
  const found = await store.get("Codertocat", "Hello-World", number);
  if (!found) return undefined;
  // `id` counts inserts (PostgreSQL's upsert spends one even when it updates) and
  // `desire_token` is random per hot-path desire: neither is part of the desire.
  const { id: _id, desire_token: _token, ...columns } = found;
  return columns;
}

describe.each(DIALECTS)("the desire rules on $dialect", (database) => {
  let hot: Store;
  let typed: Store;
  const drops: Array<() => Promise<void>> = [];
  let now = 1_000_000;

  beforeAll(async () => {
    const open = async () => {
      const created = await database.create();
      drops.push(created.drop);
      return openStore(created.url, () => now);
    };
    hot = await open();
    typed = await open();
  });
  afterAll(async () => {
    await hot?.close();
    await typed?.close();
    for (const drop of drops) await drop();
  });

  it("the webhook's SQL and the TypeScript rules leave the same row after every event, from every state", async () => {
    const viaHotPath = handlersOver(hot);
    const viaRules = handlersOver(throughTypeScriptRules(typed));
    // A pull_request action the handlers record that this test does not send would go unchecked.
    expect([...new Set(EVENTS.map(([action]) => `pull_request.${action}`))].sort()).toEqual([...viaHotPath.actions].sort());

    const answers = new Set<boolean>();
    let number = 0;
    for (const [state, reach] of Object.entries(STATES)) {
      for (const [action, pr] of EVENTS) {
        number++;
        const story = `${state}, then ${action} at ${pr.sha.slice(0, 1)}…`;
        now += 1_000;
        await reach?.(hot, number);
        await reach?.(typed, number);
        expect(await row(typed, number), story).toEqual(await row(hot, number));
        // Twice, as separate deliveries: the second finds the desire the first left.
        for (const delivery of [`${number}-first`, `${number}-again`]) {
          now += 1_000;
          const payload = pullRequest(action, { ...pr, number });
          const woke = await viaHotPath.deliver(delivery, payload);
          expect(await viaRules.deliver(delivery, structuredClone(payload)), `${story} (${delivery}): wakes the workers`).toBe(woke);
          expect(await row(typed, number), `${story} (${delivery})`).toEqual(await row(hot, number));
          answers.add(woke);
        }
      }
    }
    // Both answers came up: the comparison covered desires that changed and ones that did not.
    expect([...answers].sort()).toEqual([false, true]);
  });
});
