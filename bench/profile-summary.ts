// Reads the CPU profiles BENCH_CPU_PROF made (bench/cpu-profile.ts) and prints, per
// server (the part of the file name before the pid), where its time went: self time by
// place (a package under node_modules, a file of src/, Node's internals, GC) and by
// function, and the time spent inside each of our own functions (src/, callees
// included). Figures are µs per timed delivery, averaged over that server's profiles.
//
//   node --import tsx bench/profile-summary.ts DIR [deliveries per profile, 2000] [rows, 25] [pattern]
//
// `pattern` (a regular expression, /src\// by default) picks the frames of the last
// list by their file: "probot|pino" shows the time inside those packages' functions.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [dir, deliveriesArg = "2000", rowsArg = "25", patternArg = "/src/"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node --import tsx bench/profile-summary.ts DIR [deliveries per profile] [rows]");
  process.exit(2);
}
const deliveries = Number(deliveriesArg);
const rows = Number(rowsArg);
const pattern = new RegExp(patternArg);

/** Where a frame's code lives: a package, a file of ours, Node itself, or V8's own entries. */
function place(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const ours = /\/((?:src|bench|test)\/.*)$/.exec(url);
  if (ours) return ours[1];
  if (url.startsWith("node:")) return "node:internal";
  return url;
}

const groups = new Map<string, string[]>();
for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()) {
  const name = file.replace(/-\d+\.cpuprofile$/, "");
  groups.set(name, [...(groups.get(name) ?? []), join(dir, file)]);
}

for (const [name, files] of groups) {
  const self = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // tsx's output for our files starts every function on line 1: no line number for those.
    const label = (n: Node) =>
      `${n.callFrame.functionName || "(anonymous)"} ${place(n.callFrame.url, n.callFrame.functionName)}${n.callFrame.lineNumber > 0 ? `:${n.callFrame.lineNumber + 1}` : ""}`;
    profile.samples.forEach((id, i) => {
      // Each sample stands for the time until the next one.
      const us = profile.timeDeltas[i + 1] ?? 0;
      const node = byId.get(id)!;
      total += us;
      self.set(label(node), (self.get(label(node)) ?? 0) + us);
      const where = place(node.callFrame.url, node.callFrame.functionName);
      byPlace.set(where, (byPlace.get(where) ?? 0) + us);
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const n = byId.get(at)!;
        if (!pattern.test(n.callFrame.url)) continue;
        const l = label(n);
        if (seen.has(l)) continue;
        seen.add(l);
        inclusive.set(l, (inclusive.get(l) ?? 0) + us);
      }
    });
  }
  const per = files.length * deliveries;
  const print = (title: string, m: Map<string, number>) => {
    console.log(`  ${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`    ${(us / per).toFixed(1).padStart(7)} µs  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
    }
  };
  const idle = byPlace.get("(idle)") ?? 0;
  console.log(`\n${name}: ${files.length} profile(s), ${(total / per).toFixed(1)} µs per delivery sampled, ${((total - idle) / per).toFixed(1)} µs of it not idle`);
  print("self time by place", byPlace);
  print("self time by function", self);
  print(`time inside the functions of files matching ${pattern} (callees included)`, inclusive);
}
