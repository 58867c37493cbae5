// The layers of src/, checked: an import that runs back up, or a cycle between rooms,
// fails `npm test` (and so .ci/run). docs/architecture.md ("Layers") explains the rule
// and shows the same table; a test below holds the two together, and another that the doc
// names every file of src/ (its layout).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Lowest first. A room is a folder of src/ or a file at its top. A room may import the
 * rooms of lower layers; rooms of one layer do not import each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["model"],
  ["config", "fly", "github", "env.ts"],
  ["store", "database"],
  ["secrets", "metrics"],
  ["settings.ts"],
  ["credentials.ts", "commands"],
  ["handlers", "preview"],
  ["server"],
  ["app.ts"],
  ["main.ts", "cli", "lambda"],
];

interface Exception {
  from: string;
  to: string;
}

/**
 * Imports known to break the rule, each waiting for the change beside it. The checker
 * passes over them (rule and cycles alike) and fails once one no longer happens, so the
 * list only shrinks: empty it, never add to it.
 */
const KNOWN_EXCEPTIONS: readonly Exception[] = [];

interface SourceFile {
  /** Relative to the repository, with "/": "src/store/store.ts". */
  path: string;
  text: string;
}

interface Import {
  from: string;
  to: string;
  specifier: string;
  line: number;
}

/** "src/store/store.ts" → "store"; "src/app.ts" → "app.ts". */
function roomOf(file: string): string {
  return file.split("/")[1];
}

/** Every relative import of a file: `import … from`, `export … from`, `import "…"` and `import()`, as TypeScript's own scanner finds them (comments and strings are not imports). */
function relativeImports(file: SourceFile): Import[] {
  return ts
    .preProcessFile(file.text, true, true)
    .importedFiles.filter((ref) => ref.fileName.startsWith("."))
    .map((ref) => ({
      from: file.path,
      // What NodeNext resolves "./x.js" to in the sources.
      to: path.posix.join(path.posix.dirname(file.path), ref.fileName).replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts"),
      specifier: ref.fileName,
      line: file.text.slice(0, ref.pos).split("\n").length,
    }));
}

/** Every way `files` break the layers, one line each; [] when they keep them. */
function layerProblems(files: readonly SourceFile[], layers = LAYERS, exceptions = KNOWN_EXCEPTIONS): string[] {
  const problems: string[] = [];
  const layerOf = new Map<string, number>();
  layers.forEach((rooms, index) => {
    for (const room of rooms) {
      if (layerOf.has(room)) problems.push(`the room ${room} is in two layers`);
      layerOf.set(room, index);
    }
  });
  const show = (room: string) => `${room} (layer ${layerOf.get(room)! + 1})`;
  const below = (index: number) => layers.slice(0, index).flat().join(", ") || "nothing";

  const unused = new Set(exceptions);
  const edges = new Map<string, Map<string, Import>>();
  for (const file of files) {
    const room = roomOf(file.path);
    if (!layerOf.has(room)) {
      problems.push(`${file.path}: the room ${room} is in no layer: add it to LAYERS (test/layers.test.ts) and to the table in docs/architecture.md`);
      continue;
    }
    for (const imported of relativeImports(file)) {
      const where = `${imported.from}:${imported.line} imports "${imported.specifier}"`;
      if (!imported.to.startsWith("src/")) {
        problems.push(`${where}, outside src/`);
        continue;
      }
      const target = roomOf(imported.to);
      if (target === room || !layerOf.has(target)) continue; // a room in no layer is reported by its own files
      const exception = exceptions.find((e) => e.from === imported.from && e.to === imported.to);
      if (exception) {
        unused.delete(exception);
        continue;
      }
      if (layerOf.get(target)! >= layerOf.get(room)!) {
        problems.push(`${where}: ${show(room)} may not import ${show(target)}; it may import ${below(layerOf.get(room)!)}`);
      }
      if (!edges.has(room)) edges.set(room, new Map());
      if (!edges.get(room)!.has(target)) edges.get(room)!.set(target, imported);
    }
  }
  problems.push(...cycles(edges));
  for (const e of unused) problems.push(`the known exception ${e.from} → ${e.to} no longer happens: remove it from KNOWN_EXCEPTIONS`);
  return problems;
}

/** One cycle through each group of rooms that import each other, with an import that makes each step. */
function cycles(edges: Map<string, Map<string, Import>>): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  for (const start of [...edges.keys()].sort()) {
    if (done.has(start)) continue;
    // The shortest way back to `start`, breadth first.
    const cameFrom = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const room = queue.shift()!;
      for (const next of [...(edges.get(room)?.keys() ?? [])].sort()) {
        if (next === start) {
          closing = room;
          break;
        }
        if (!cameFrom.has(next)) {
          cameFrom.set(next, room);
          queue.push(next);
        }
      }
    }
    if (closing === undefined) continue;
    const loop = [closing];
    while (loop[0] !== start) loop.unshift(cameFrom.get(loop[0])!);
    loop.forEach((room) => done.add(room));
    const steps = loop.map((room, i) => {
      const step = edges.get(room)!.get(loop[(i + 1) % loop.length])!;
      return `${step.from}:${step.line} imports "${step.specifier}"`;
    });
    found.push(`a cycle between rooms: ${[...loop, start].join(" → ")} (${steps.join("; ")})`);
  }
  return found;
}

const root = path.resolve(import.meta.dirname, "..");

/** Every .ts file under src/. */
function sources(): SourceFile[] {
  return readdirSync(path.join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((name) => /\.m?ts$/.test(name))
    .map((name) => {
      const file = `src/${name.split(path.sep).join("/")}`;
      return { path: file, text: readFileSync(path.join(root, file), "utf8") };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

describe("the layers of src/", () => {
  it("every import of src/ goes down a layer, and no rooms import each other round", () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(50);
    expect(layerProblems(files)).toEqual([]);
  });

  it("docs/architecture.md shows the same layers", () => {
    const doc = readFileSync(path.join(root, "docs/architecture.md"), "utf8");
    const section = doc.split(/^## Layers$/m)[1]?.split(/^## /m)[0] ?? "";
    const rows = [...section.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((row) => ({
      layer: Number(row[1]),
      rooms: [...row[2].matchAll(/`([^`]+)`/g)].map((room) => room[1].replace(/\/$/, "")),
    }));
    expect(rows).toEqual(LAYERS.map((rooms, index) => ({ layer: index + 1, rooms: [...rooms] })));
  });
});

describe("docs/architecture.md, the layout", () => {
  const doc = readFileSync(path.join(root, "docs/architecture.md"), "utf8");
  /** The text under `## heading` up to the next `## `. */
  const section = (heading: RegExp) => doc.split(heading)[1]?.split(/^## /m)[0] ?? "";
  // src/store/ and src/preview/ have a table of their own, in their sections.
  const named: Record<string, string> = {
    store: section(/^## The store \(`src\/store\/`\)$/m),
    preview: section(/^## The reconciler \(`src\/preview\/`\)$/m),
  };
  const layout = section(/^## Layout$/m);

  it("names every file of src/: the folders' own in their sections, the others in Layout", () => {
    expect(named.store).toContain("`store.ts`");
    expect(named.preview).toContain("`plan.ts`");
    const missing = sources()
      .map((file) => file.path.slice("src/".length))
      .filter((file) => {
        const [folder, name] = file.split("/");
        if (name !== undefined && folder in named) return !named[folder].includes(`\`${name}\``);
        return !layout.includes(`\`${file}\``);
      });
    expect(missing).toEqual([]);
  });

  it("names no file of src/ that is gone", () => {
    const files = new Set(sources().map((file) => file.path.slice("src/".length)));
    const shown = [...layout.matchAll(/`((?:[a-z-]+\/)?[a-z-]+\.ts)`/g)].map((m) => m[1]);
    expect(shown.length).toBeGreaterThan(50);
    // A bare name (`expiry.ts` in the folders' table) is a file of some folder.
    const gone = (file: string) => !files.has(file) && (file.includes("/") || ![...files].some((f) => f.endsWith(`/${file}`)));
    expect(shown.filter(gone)).toEqual([]);
    for (const folder of Object.keys(named)) {
      const rows = [...named[folder].matchAll(/^\| `([a-z-]+\.ts)`/gm)].map((m) => m[1]);
      expect(rows.filter((name) => !files.has(`${folder}/${name}`)), folder).toEqual([]);
    }
  });
});

describe("the layer check", () => {
  const file = (p: string, text: string): SourceFile => ({ path: p, text });

  it("names the file, line and import that runs back up", () => {
    const files = [
      file("src/github/pull-request.ts", 'import type { Octokit } from "./octokit.js";\nimport { appName } from "../preview/app-name.js";\n'),
      file("src/preview/app-name.ts", "export const appName = () => '';\n"),
    ];
    expect(layerProblems(files, LAYERS, [])).toEqual([
      'src/github/pull-request.ts:2 imports "../preview/app-name.js": github (layer 2) may not import preview (layer 7); it may import model',
    ]);
  });

  it("refuses an import between rooms of one layer", () => {
    expect(layerProblems([file("src/config/load.ts", 'export { Flyctl } from "../fly/index.js";')], LAYERS, [])).toEqual([
      'src/config/load.ts:1 imports "../fly/index.js": config (layer 2) may not import fly (layer 2); it may import model',
    ]);
  });

  it("sees re-exports, side-effect imports and import(), and not imports in comments or strings", () => {
    const text = [
      "// import { x } from '../cli/run.js';",
      'const s = "import y from \'../cli/run.js\'";',
      'export * from "../handlers/check-run.js";',
      'import "../server/healthz.js";',
      'const app = await import("../app.js");',
    ].join("\n");
    const problems = layerProblems([file("src/store/store.ts", text)], LAYERS, []);
    expect(problems.map((p) => p.split(":").slice(0, 2).join(":"))).toEqual([
      'src/store/store.ts:3 imports "../handlers/check-run.js"',
      'src/store/store.ts:4 imports "../server/healthz.js"',
      'src/store/store.ts:5 imports "../app.js"',
    ]);
  });

  it("names a cycle between rooms, with the import behind each step", () => {
    const files = [
      file("src/store/store.ts", 'import { SettingsError } from "../settings.js";'),
      file("src/settings.ts", 'import { parseSecretsKey } from "./secrets/index.js";'),
      file("src/secrets/store.ts", 'import type { Database } from "../store/schema.js";'),
    ];
    expect(layerProblems(files, LAYERS, [])).toContain(
      'a cycle between rooms: secrets → store → settings.ts → secrets (src/secrets/store.ts:1 imports "../store/schema.js"; src/store/store.ts:1 imports "../settings.js"; src/settings.ts:1 imports "./secrets/index.js")',
    );
  });

  it("refuses a file whose room is in no layer, and an import that leaves src/", () => {
    expect(layerProblems([file("src/telemetry/registry.ts", ""), file("src/model/x.ts", 'import data from "../../package.json";')], LAYERS, [])).toEqual([
      "src/telemetry/registry.ts: the room telemetry is in no layer: add it to LAYERS (test/layers.test.ts) and to the table in docs/architecture.md",
      'src/model/x.ts:1 imports "../../package.json", outside src/',
    ]);
  });

  it("passes over a known exception, and refuses one that no longer happens", () => {
    const files = [file("src/github/comment.ts", 'import type { PreviewStatus } from "../store/schema.js";')];
    const exceptions = [
      { from: "src/github/comment.ts", to: "src/store/schema.ts" },
      { from: "src/github/pull-request.ts", to: "src/store/store.ts" },
    ];
    expect(layerProblems(files, LAYERS, exceptions)).toEqual([
      "the known exception src/github/pull-request.ts → src/store/store.ts no longer happens: remove it from KNOWN_EXCEPTIONS",
    ]);
  });
});
