#!/usr/bin/env node
import { loadDotEnv } from "../env.js";
import { CLI_COMMANDS, runCli } from "./run.js";
import { readStdin } from "./stdin.js";

const argv = process.argv.slice(2);
// A local command (validate) runs in an application's checkout: its `.env` belongs to that
// application, and may even be a directory (a Python virtualenv).
const local = CLI_COMMANDS.some((c) => c.local && c.name.split(" ").every((word, i) => argv[i] === word));

try {
  // The server's `.env`, as `npm start` reads it: a variable set in the shell wins.
  if (!local) loadDotEnv();
} catch (error) {
  process.stderr.write(`fly-preview: configuration error: ${(error as Error).message}\n`);
  process.exit(1);
}

// `fly-preview validate | head` closes the pipe early: the reader has what it wanted, so
// the rest is dropped quietly rather than crashing with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await runCli(argv, {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: () => readStdin(process.stdin, (s) => process.stderr.write(s)),
  env: process.env,
});
