import { afterEach, describe, expect, it } from "vitest";
import { until } from "./harness.js";
import { freePort, startServerProcess, type ServerProcess } from "./server-process.js";

let server: ServerProcess | undefined;
afterEach(() => {
  server?.child.kill("SIGKILL");
  server = undefined;
});

describe("start-up", () => {
  it("with no configuration serves Probot's setup page", async () => {
    const port = await freePort();
    server = startServerProcess({ PORT: String(port), NODE_ENV: "development" });
    const response = await until(
      "the setup page",
      () => fetch(`http://localhost:${port}/probot`).catch(() => undefined),
      30_000,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Register GitHub App");
  });

  it("stops at an invalid setting and names the variable", async () => {
    server = startServerProcess({ PREVIEW_CONCURRENCY: "abc", APP_ID: "1", PRIVATE_KEY: "x" });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('PREVIEW_CONCURRENCY must be a whole number between 1 and 64, got "abc"');
  });
});
