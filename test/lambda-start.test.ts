// The webhook function's start-up is kept per container: a failed one must not be.
import { createHmac, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { handler } from "../src/lambda/webhook.js";
import { freshPostgres, TEST_DATABASE_URL } from "./databases.js";
import { pullRequest, sha, TEST_PRIVATE_KEY } from "./harness.js";

const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

describe.skipIf(!TEST_DATABASE_URL)("the Lambda webhook's start-up", () => {
  it("is tried again on the next call after it failed", async () => {
    const database = await freshPostgres();
    try {
      const body = JSON.stringify(pullRequest("opened", { sha: sha(1) }));
      const event = {
        headers: {
          "x-github-event": "pull_request",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": `sha256=${createHmac("sha256", "s").update(body).digest("hex")}`,
        },
        body,
      };
      const env = { APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET: "s", LOG_LEVEL: "fatal" as const };
      // Nothing listens on port 1: the database is unreachable during this start.
      process.env = { ...saved, ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" };
      await expect(handler(event)).rejects.toThrow();

      process.env = { ...saved, ...env, DATABASE_URL: database.url };
      expect((await handler(event)).statusCode).toBe(200);
    } finally {
      await database.drop();
    }
  });
});
