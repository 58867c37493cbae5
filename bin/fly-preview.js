#!/usr/bin/env node
// `fly-preview`, as package.json's `bin` names it (the Docker image links dist/cli/main.js
// onto PATH itself). In a checkout after `npm ci` it runs the sources through tsx, so
// `npx fly-preview validate` works there without a build and never runs a stale dist/;
// where the sources or tsx are absent (a package installed without its devDependencies)
// it runs the compiled CLI.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/cli/main.js", import.meta.url);

function tsxInstalled() {
  try {
    import.meta.resolve("tsx/esm/api");
    return true;
  } catch {
    return false;
  }
}

if (existsSync(sources) && tsxInstalled()) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write("fly-preview: neither the sources with tsx (npm ci) nor the compiled CLI (npm run build) is here\n");
  process.exit(1);
}
