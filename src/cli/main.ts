#!/usr/bin/env node
import { runCli } from "./run.js";
import { readStdin } from "./stdin.js";

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: () => readStdin(process.stdin, (s) => process.stderr.write(s)),
  env: process.env,
});
