// `BENCH_PART=dockerfile npm run bench`: what generating a Dockerfile (issue 14) adds to a
// build of a Node.js repository that has none. Runs the real @flydotio/dockerfile, with the
// confinement the server uses (src/preview/dockerfile.ts), on a small Express app.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDockerfile, networkIsolation } from "../src/preview/dockerfile.js";
import { runPart } from "./run-part.js";
import { percentile } from "./stats.js";

const RUNS = 15;
const roots: string[] = [];

function nodeRepository(): string {
  const root = mkdtempSync(join(tmpdir(), "fly-preview-bench-gen-"));
  roots.push(root);
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "web", version: "1.0.0", scripts: { start: "node index.js" }, dependencies: { express: "^4.19.0" } }));
  writeFileSync(join(root, "package-lock.json"), JSON.stringify({ name: "web", lockfileVersion: 3, requires: true, packages: {} }));
  writeFileSync(join(root, "index.js"), "require('express')().get('/', (_q, s) => s.send('hi')).listen(process.env.PORT || 3000)\n");
  return root;
}

const cleanup = async () => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
};

await runPart({
  name: "Dockerfile generation bench",
  deadlineMs: 5 * 60_000,
  async main() {
    const isolated = (await networkIsolation()) !== undefined;
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const root = nodeRepository();
      const started = performance.now();
      await generateDockerfile({ root, config: { dockerfile: "Dockerfile", context: "." } });
      ms.push(performance.now() - started);
    }
    await cleanup();
    return { ms: ms.sort((a, b) => a - b), isolated };
  },
  report({ ms, isolated }, started, loadAtStart) {
    console.log(`started ${started.toISOString()}, load average ${loadAtStart.toFixed(2)}`);
    console.log(`network isolation (unshare): ${isolated ? "on" : "not available here"}`);
    console.log(`generation of a Dockerfile, ${RUNS} runs: median ${percentile(ms, 50).toFixed(0)} ms, min ${ms[0].toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms`);
  },
  stop: cleanup,
});
