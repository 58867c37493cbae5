#!/usr/bin/env node
import { loadDotEnv } from "../env.js";
import { runCli } from "./run.js";
import { readStdin } from "./stdin.js";

try {
  // The server's `.env`, as `npm start` reads it: a variable set in the shell wins.
  loadDotEnv();
} catch (error) {
  process.stderr.write(`fly-preview: configuration error: ${(error as Error).message}\n`);
  process.exit(1);
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: () => readStdin(process.stdin, (s) => process.stderr.write(s)),
  env: process.env,
});
