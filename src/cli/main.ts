#!/usr/bin/env node
import { runCli } from "./run.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("enter the value, then press Ctrl-D on an empty line\n");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: readStdin,
  env: process.env,
});
