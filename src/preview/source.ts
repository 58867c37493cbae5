// The source of a build: the tarball of one commit, unpacked into a temp dir for flyctl.
// The archive comes from whoever opened the pull request, so it is untrusted input: every
// entry is checked before tar writes it, and an archive that breaks a rule is refused as a
// whole rather than silently trimmed (node-tar's default), so the user learns why.

import { once } from "node:events";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebStream } from "node:stream/web";
import type { ProbotOctokit } from "probot";
import { ReadEntry, Unpack } from "tar";

export class SourceError extends Error {
  /** One plain line that can be shown to the user as is. */
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "SourceError";
    this.reason = reason;
  }
}

export interface SourceLimits {
  /** Sum of the unpacked file sizes. */
  maxBytes: number;
  /** Entries of any kind: empty files cost nothing in maxBytes but still cost an inode each. */
  maxEntries?: number;
}

export const DEFAULT_SOURCE_LIMITS: Required<SourceLimits> = {
  maxBytes: 500 * 1024 * 1024,
  maxEntries: 100_000,
};

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const EXTRACTED_TYPES = new Set([...FILE_TYPES, "Directory", "GNUDumpDir", "SymbolicLink", "Link"]);
// The kernel stops following a chain of symlinks at 40 hops (ELOOP).
const MAX_SYMLINK_HOPS = 40;

/**
 * Unpacks a (gzipped) tarball shaped like GitHub's — everything under one top-level
 * directory, which is stripped — into destDir, which must be absent or empty.
 * On any failure destDir is removed: a half-unpacked tree is never handed on.
 */
export async function extractTarball(
  input: NodeJS.ReadableStream | ReadableStream<Uint8Array>,
  destDir: string,
  limits: Partial<SourceLimits> = {},
): Promise<{ files: number; bytes: number }> {
  const maxBytes = limits.maxBytes ?? DEFAULT_SOURCE_LIMITS.maxBytes;
  const maxEntries = limits.maxEntries ?? DEFAULT_SOURCE_LIMITS.maxEntries;

  await mkdir(destDir, { recursive: true });
  // Removing destDir on failure is only safe when everything in it is ours.
  if ((await readdir(destDir)).length > 0) {
    throw new Error(`extractTarball needs an empty directory, and ${destDir} is not`);
  }

  const source = toReadable(input);
  const symlinks = new Map<string, string>();
  let entries = 0;
  let files = 0;
  let bytes = 0;
  let violation: SourceError | undefined;
  let failure: unknown;

  const unpack = new Unpack({
    cwd: destDir,
    strip: 1,
    // Without strict, tar reports a file it failed to write as a warning and goes on,
    // and the build would run on a tree with holes in it.
    strict: true,
    // Owners in the archive mean nothing here, and honouring them needs root anyway.
    preserveOwner: false,
    filter: (rawPath, entry) => {
      if (violation || !(entry instanceof ReadEntry)) return false;
      if (!EXTRACTED_TYPES.has(entry.type)) return false;
      const problem = check(rawPath, entry);
      if (problem) {
        violation = new SourceError(problem);
        // Stops at this header: nothing more is downloaded, inflated or written.
        unpack.abort(new Error(problem));
        return false;
      }
      return relativePath(rawPath) !== "";
    },
  });

  function check(rawPath: string, entry: ReadEntry): string | undefined {
    if (isAbsolute(rawPath)) return `the source archive contains an absolute path: ${shown(rawPath)}`;
    if (rawPath.split(/[\\/]/).includes("..")) {
      return `the source archive contains a path that leaves the repository: ${shown(rawPath)}`;
    }
    const rel = relativePath(rawPath);
    if (rel === "") return undefined;
    const linkpath = entry.linkpath ?? "";
    if (entry.type === "SymbolicLink") {
      symlinks.set(rel, linkpath);
      if (isAbsolute(linkpath) || leavesTree(symlinks, rel)) return symlinkProblem(rel, linkpath);
    }
    if (entry.type === "Link" && (isAbsolute(linkpath) || linkpath.split(/[\\/]/).includes(".."))) {
      return `the hard link ${shown(rel)} points outside the repository (${shown(linkpath)})`;
    }
    entries += 1;
    if (entries > maxEntries) return `the source has more than ${maxEntries} files and folders, the limit for a preview`;
    if (FILE_TYPES.has(entry.type)) {
      files += 1;
      bytes += entry.size;
      if (bytes > maxBytes) return `the source is larger than ${formatBytes(maxBytes)} unpacked, the limit for a preview`;
    }
    return undefined;
  }

  const finished = new Promise<void>((resolve, reject) => {
    unpack.on("close", resolve);
    unpack.on("error", (error: unknown) => {
      failure ??= error;
      source.destroy();
      reject(error);
    });
  });
  // Observed at the next await; this only keeps Node from calling it unhandled meanwhile.
  finished.catch(() => undefined);

  try {
    for await (const chunk of source) {
      if (!unpack.write(toBuffer(chunk))) await Promise.race([once(unpack, "drain"), finished]);
    }
    unpack.end();
    await finished;
    // A symlink is judged again once all are known: a later link can change where an
    // earlier one leads (`s -> d/..` is harmless until `d -> .` arrives).
    for (const [link, target] of symlinks) {
      if (leavesTree(symlinks, link)) throw new SourceError(symlinkProblem(link, target));
    }
    return { files, bytes };
  } catch (error) {
    source.destroy();
    await removeQuietly(destDir);
    // Destroying the input makes the loop throw "premature close": the cause is tar's error.
    throw violation ?? asSourceError(failure ?? error);
  }
}

export type TarballClient = Pick<ProbotOctokit, "request">;

export interface FetchedSource {
  dir: string;
  files: number;
  bytes: number;
  durationMs: number;
  /** Removes dir; never throws, so it is safe in a finally block. */
  cleanup(): Promise<void>;
}

/**
 * Downloads the tarball of one commit through the GitHub API, as the installation, and
 * unpacks it into a fresh temp dir. Going through the API rather than `git clone` works
 * for fork pull requests and private repositories alike, and against a fake GitHub in tests.
 */
export async function fetchSource(
  octokit: TarballClient,
  where: { owner: string; repo: string; sha: string },
  limits?: Partial<SourceLimits>,
  signal?: AbortSignal,
): Promise<FetchedSource> {
  const started = performance.now();
  const dir = await mkdtemp(path.join(tmpdir(), "fly-preview-"));
  try {
    const response = await octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
      owner: where.owner,
      repo: where.repo,
      ref: where.sha,
      // Keeps the body a stream: a buffered tarball would hold the whole repository in memory.
      request: { parseSuccessResponseBody: false, signal },
    });
    const body: unknown = response.data;
    if (!(body instanceof ReadableStream)) {
      throw new Error(`GitHub sent no tarball body for ${where.owner}/${where.repo}@${where.sha}`);
    }
    const { files, bytes } = await extractTarball(body, dir, limits);
    return {
      dir,
      files,
      bytes,
      durationMs: Math.round(performance.now() - started),
      cleanup: () => removeQuietly(dir),
    };
  } catch (error) {
    await removeQuietly(dir);
    throw error;
  }
}

function toReadable(input: NodeJS.ReadableStream | ReadableStream<Uint8Array>): Readable {
  if (input instanceof Readable) return input;
  // The global and node:stream/web typings of the same class disagree on generics.
  if ("getReader" in input) return Readable.fromWeb(input as NodeWebStream<Uint8Array>);
  return new Readable().wrap(input);
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk));
}

function relativePath(rawPath: string): string {
  const rest = rawPath.split("/").slice(1).join("/");
  if (rest === "") return "";
  return path.posix.normalize(rest).replace(/\/+$/, "").replace(/^\.$/, "");
}

function isAbsolute(p: string): boolean {
  return path.posix.isAbsolute(p) || path.win32.isAbsolute(p);
}

/**
 * Follows a symlink the way the kernel would, through the archive's other symlinks, and
 * tells whether it ends up above the root. Judging the target text alone misses chains.
 */
function leavesTree(symlinks: ReadonlyMap<string, string>, link: string): boolean {
  const at = link.split("/").slice(0, -1);
  const pending = (symlinks.get(link) ?? "").split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (at.length === 0) return true;
      at.pop();
      continue;
    }
    at.push(part);
    const target = symlinks.get(at.join("/"));
    if (target === undefined) continue;
    // A chain the kernel would refuse to follow is refused here too.
    if (isAbsolute(target) || ++hops > MAX_SYMLINK_HOPS) return true;
    at.pop();
    pending.unshift(...target.split("/"));
  }
  return false;
}

function symlinkProblem(link: string, target: string): string {
  return `the symlink ${shown(link)} points outside the repository (${shown(target)})`;
}

function asSourceError(error: unknown): unknown {
  if (error instanceof SourceError) return error;
  // Errors carrying an errno are this machine's (disk full, permissions), not the archive's.
  if (error instanceof Error && "tarCode" in error && !("errno" in error)) {
    return new SourceError(`the source archive could not be unpacked: ${shown(error.message)}`, { cause: error });
  }
  return error;
}

// Paths come from the archive: quoting keeps a newline in a file name from breaking
// the one-line reason, and the cut keeps a 4 KB name from filling a check run.
function shown(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.floor(n / (1024 * 1024))} MiB` : `${n} bytes`;
}

async function removeQuietly(dir: string): Promise<void> {
  // Retries cover tar's last in-flight writes landing in a folder while it is removed.
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}
