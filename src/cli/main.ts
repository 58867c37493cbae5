#!/usr/bin/env node
import { loadDotEnv } from "../env.js";
import { runCli } from "./run.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("enter the value, then press Ctrl-D on an empty line\n");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

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
  stdin: readStdin,
  env: process.env,
});
