// What a preview costs: the price table (prices/fly-prices.json or PREVIEW_PRICES), the
// estimate from a machine's size, and the line the sticky comment shows when it is ready.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PRICES_URL, estimateCost, readPriceTable } from "../src/fly/index.js";
import { parsePriceTable } from "../src/fly/prices.js";
import { renderComment } from "../src/github/comment.js";
import { readSettings, SettingsError } from "../src/settings.js";
import { DOCKERFILE, pullRequest, sha, startWorld, type World } from "./harness.js";

const shipped = readPriceTable(DEFAULT_PRICES_URL);
const raw = JSON.parse(readFileSync(DEFAULT_PRICES_URL, "utf8"));

describe("the price table", () => {
  it("that ships is dated, names its source, and names each preset after its CPUs", () => {
    expect(shipped.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(shipped.source).toMatch(/^https:\/\/fly\.io\/docs\/about\/pricing/);
    for (const preset of shipped.presets) {
      expect(preset.name).toBe(`${preset.cpuKind === "shared" ? "shared-cpu" : "performance"}-${preset.cpus}x`);
    }
  });

  it("prices a preset as listed, memory beyond it at the table's rate, and no estimate for a size it lacks", () => {
    expect(estimateCost(shipped, { cpuKind: "shared", cpus: 1, memoryMb: 256 })).toMatchObject({ preset: "shared-cpu-1x", perMonth: 2.02 });
    const gb = estimateCost(shipped, { cpuKind: "shared", cpus: 1, memoryMb: 1024 })!;
    expect(gb.perMonth).toBeCloseTo(2.02 + 0.75 * shipped.additionalRamPerGbMonth, 6);
    expect(gb.perHour).toBeCloseTo(gb.perMonth / 730, 9);
    expect(estimateCost(shipped, { cpuKind: "performance", cpus: 2, memoryMb: 4096 })).toMatchObject({ preset: "performance-2x", perMonth: 64.39 });
    expect(estimateCost(shipped, { cpuKind: "shared", cpus: 3, memoryMb: 768 })).toBeUndefined();
  });

  it("refuses a file that is wrong, naming the field", () => {
    expect(() => parsePriceTable([])).toThrow("the file must be an object");
    expect(() => parsePriceTable({ ...raw, date: "June" })).toThrow('"date" must be a date like 2026-06-07, not "June"');
    expect(() => parsePriceTable({ ...raw, presets: [{ ...raw.presets[0], cpu_kind: "gpu" }] })).toThrow('"presets[0].cpu_kind" must be "shared" or "performance"');
    expect(() => parsePriceTable({ ...raw, presets: [{ ...raw.presets[0], per_month: -1 }] })).toThrow('"presets[0].per_month" must be a non-negative number');
  });
});

describe("PREVIEW_PRICES", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const file = (content: string) => {
    const dir = mkdtempSync(join(tmpdir(), "fly-preview-prices-"));
    dirs.push(dir);
    writeFileSync(join(dir, "prices.json"), content);
    return join(dir, "prices.json");
  };

  it("replaces the shipped table", () => {
    const path = file(JSON.stringify({ ...raw, date: "2027-02-01" }));
    expect(readSettings({ PREVIEW_PRICES: path }).prices.date).toBe("2027-02-01");
    expect(readSettings({}).prices).toEqual(shipped);
  });

  it("that cannot be used stops start-up naming the variable", () => {
    expect(() => readSettings({ PREVIEW_PRICES: file("{ not json") })).toThrow(SettingsError);
    expect(() => readSettings({ PREVIEW_PRICES: file("{ not json") })).toThrow(/^PREVIEW_PRICES: cannot read .* as JSON/);
    expect(() => readSettings({ PREVIEW_PRICES: "/nonexistent/prices.json" })).toThrow(/^PREVIEW_PRICES: cannot read \/nonexistent\/prices.json/);
  });
});

describe("the sticky comment", () => {
  it("shows the cost only while the preview is ready: not while it builds, not once destroyed", () => {
    const cost = estimateCost(shipped, { cpuKind: "shared", cpus: 1, memoryMb: 256 })!;
    const view = { appName: "pr-2-a-b", sha: sha(1), headRef: "main", url: "https://pr-2-a-b.fly.dev", cost, updatedAt: 0 };
    expect(renderComment({ ...view, status: "ready" })).toContain("| **Cost** | `shared-cpu-1x`, 256 MB: about $0.0028 an hour, $2.02 a month");
    expect(renderComment({ ...view, status: "building" })).not.toContain("**Cost**");
    expect(renderComment({ ...view, status: "destroyed" })).not.toContain("**Cost**");
  });

  let world: World;
  afterEach(async () => world?.close());

  const ready = async (env: Record<string, string> = {}) => {
    world = await startWorld({ env });
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "resources:\n  memory: 1gb\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    return world.comments()[0].body;
  };

  it("says what the ready preview's machine costs, from the shipped table, and that it stops when idle", async () => {
    const body = await ready();
    expect(body).toContain(
      "| **Cost** | `shared-cpu-1x`, 1 GB: about $0.0081 an hour, $5.92 a month if always on ([Fly's iad prices](https://fly.io/docs/about/pricing/#started-fly-machines) of 2026-06-07). Idle, it stops by itself (auto-stop) and costs nothing for compute until the next request. |",
    );
    const row = (await world.store.list())[0];
    expect([row.machine_cpu_kind, row.machine_cpus, row.machine_memory_mb]).toEqual(["shared", 1, 1024]);
  });

  it("quotes the operator's table when PREVIEW_PRICES names one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fly-preview-prices-"));
    try {
      const path = join(dir, "prices.json");
      writeFileSync(path, JSON.stringify({ ...raw, region: "fra", date: "2027-03-01", additional_ram_per_gb_month: 8 }));
      const body = await ready({ PREVIEW_PRICES: path });
      // $2.02 + 0.75 GB at $8.
      expect(body).toContain("$8.02 a month if always on ([Fly's fra prices]");
      expect(body).toContain("of 2027-03-01");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
