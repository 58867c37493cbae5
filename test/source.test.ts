import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { ProbotOctokit } from "probot";
import * as tar from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SourceError, extractTarball, fetchSource } from "../src/preview/source.js";

const TOP = "acme-web-0123456789abcdef0123456789abcdef01234567";

// node-tar refuses to write `..`, absolute paths and odd entry types, so the hostile
// archives are put together by hand, one 512-byte ustar header at a time.
interface RawEntry {
  path: string;
  type?: "0" | "1" | "2" | "3" | "5" | "6" | "g";
  body?: string | Buffer;
  linkpath?: string;
}

function octal(value: number, digits: number): string {
  return `${value.toString(8).padStart(digits, "0")}\0`;
}

function header(entry: RawEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(entry.path, 0, 100);
  block.write(octal(entry.type === "5" ? 0o755 : 0o644, 7), 100);
  block.write(octal(0, 7), 108);
  block.write(octal(0, 7), 116);
  block.write(octal(size, 11), 124);
  block.write(octal(1_700_000_000, 11), 136);
  block.fill(" ", 148, 156);
  block.write(entry.type ?? "0", 156);
  block.write(entry.linkpath ?? "", 157, 100);
  block.write("ustar\0", 257);
  block.write("00", 263);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return block;
}

function rawTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? "");
    blocks.push(header(entry, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

// GitHub's tarballs open with a pax global header carrying the commit id.
function githubPaxHeader(): RawEntry {
  const record = ` comment=${TOP.slice(-40)}\n`;
  const length = record.length + String(record.length + 2).length;
  return { path: "pax_global_header", type: "g", body: `${length}${record}` };
}

function gzipped(entries: RawEntry[]): Readable {
  return Readable.from([gzipSync(rawTar(entries))]);
}

async function tarOfTree(root: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar.c({ gzip: true, cwd: root, portable: true }, [TOP])) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let work: string;
let dest: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "source-test-"));
  dest = path.join(work, "dest");
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

describe("extractTarball", () => {
  it("unpacks a repository without its top-level folder", async () => {
    const tree = path.join(work, "tree", TOP);
    await mkdir(path.join(tree, "src"), { recursive: true });
    await writeFile(path.join(tree, "Dockerfile"), "FROM scratch\n");
    await writeFile(path.join(tree, "src", "index.js"), "console.log('hi')\n");
    await symlink("src/index.js", path.join(tree, "main.js"));

    const result = await extractTarball(Readable.from([await tarOfTree(path.join(work, "tree"))]), dest);

    expect(result).toEqual({ files: 2, bytes: 13 + 18 });
    expect((await readdir(dest)).sort()).toEqual(["Dockerfile", "main.js", "src"]);
    expect(await readFile(path.join(dest, "src", "index.js"), "utf8")).toBe("console.log('hi')\n");
    expect(await readlink(path.join(dest, "main.js"))).toBe("src/index.js");
  });

  it("refuses a file larger than the limit and removes what it wrote", async () => {
    const input = gzipped([
      { path: `${TOP}/`, type: "5" },
      { path: `${TOP}/small.txt`, body: "ok" },
      { path: `${TOP}/big.bin`, body: randomBytes(2000) },
    ]);

    const error = await refusal(extractTarball(input, dest, { maxBytes: 1000 }));

    expect(error.reason).toBe("the source is larger than 1000 bytes unpacked, the limit for a preview");
    expect(existsSync(dest)).toBe(false);
  });

  it("refuses many small files that add up past the limit, without reading the rest", async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({ path: `${TOP}/f${i}.txt`, body: "x".repeat(100) }));
    const archive = rawTar(entries);
    let blocksRead = 0;
    async function* slowly() {
      for (let at = 0; at < archive.length; at += 512) {
        blocksRead += 1;
        yield archive.subarray(at, at + 512);
      }
    }

    const error = await refusal(extractTarball(Readable.from(slowly()), dest, { maxBytes: 1000 }));

    expect(error.reason).toMatch(/larger than 1000 bytes/);
    expect(blocksRead).toBeLessThan(archive.length / 512 / 2);
    expect(existsSync(dest)).toBe(false);
  });

  it("refuses more entries than allowed", async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ path: `${TOP}/e${i}` }));
    const error = await refusal(extractTarball(gzipped(entries), dest, { maxEntries: 3 }));
    expect(error.reason).toBe("the source has more than 3 files and folders, the limit for a preview");
  });

  it.each(["../evil", `${TOP}/../../evil`, `${TOP}/a/../b`])("refuses the path %s", async (entryPath) => {
    const input = gzipped([{ path: `${TOP}/fine.txt`, body: "fine" }, { path: entryPath, body: "evil" }]);

    const error = await refusal(extractTarball(input, dest));

    expect(error.reason).toBe(`the source archive contains a path that leaves the repository: "${entryPath}"`);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(path.join(work, "evil"))).toBe(false);
  });

  it("refuses an absolute path", async () => {
    const error = await refusal(extractTarball(gzipped([{ path: "/etc/x", body: "evil" }]), dest));
    expect(error.reason).toBe('the source archive contains an absolute path: "/etc/x"');
  });

  it("refuses a symlink that climbs out of the repository", async () => {
    const input = gzipped([{ path: `${TOP}/config/passwd`, type: "2", linkpath: "../../etc/passwd" }]);

    const error = await refusal(extractTarball(input, dest));

    expect(error.reason).toBe('the symlink "config/passwd" points outside the repository ("../../etc/passwd")');
    expect(existsSync(dest)).toBe(false);
  });

  it("refuses a symlink to an absolute path", async () => {
    const input = gzipped([{ path: `${TOP}/passwd`, type: "2", linkpath: "/etc/passwd" }]);
    const error = await refusal(extractTarball(input, dest));
    expect(error.reason).toMatch(/^the symlink "passwd" points outside the repository/);
  });

  it.each([
    ["Dockerfile", "/proc/self/environ"],
    ["deploy/fly.toml", "../../../../proc/self/environ"],
  ])("refuses a %s that is a symlink to the server's environment, so flyctl never reads it", async (file, target) => {
    const input = gzipped([
      { path: `${TOP}/.preview.yml`, body: "fly_toml: deploy/fly.toml\n" },
      { path: `${TOP}/${file}`, type: "2", linkpath: target },
    ]);
    const error = await refusal(extractTarball(input, dest));
    expect(error.reason).toBe(`the symlink "${file}" points outside the repository (${JSON.stringify(target)})`);
    expect(existsSync(dest)).toBe(false);
  });

  it.each([
    ["the link it relies on comes first", ["d", "s"]],
    ["the link it relies on comes after it", ["s", "d"]],
  ])("refuses a chain of symlinks that climbs out when %s", async (_, order) => {
    const links: Record<string, RawEntry> = {
      d: { path: `${TOP}/d`, type: "2", linkpath: "." },
      s: { path: `${TOP}/s`, type: "2", linkpath: "d/.." },
    };
    const input = gzipped(order.map((name) => links[name] as RawEntry));

    const error = await refusal(extractTarball(input, dest));

    expect(error.reason).toBe('the symlink "s" points outside the repository ("d/..")');
    expect(existsSync(dest)).toBe(false);
  });

  it("refuses a hard link to a file outside the repository", async () => {
    const input = gzipped([{ path: `${TOP}/shadow`, type: "1", linkpath: "/etc/shadow" }]);
    const error = await refusal(extractTarball(input, dest));
    expect(error.reason).toBe('the hard link "shadow" points outside the repository ("/etc/shadow")');
  });

  it("accepts symlinks that stay inside the repository, as GitHub packs them", async () => {
    const input = gzipped([
      githubPaxHeader(),
      { path: `${TOP}/`, type: "5" },
      { path: `${TOP}/README.md`, body: "# hello\n" },
      { path: `${TOP}/docs/`, type: "5" },
      { path: `${TOP}/docs/index.md`, type: "2", linkpath: "../README.md" },
    ]);

    const result = await extractTarball(input, dest);

    expect(result).toEqual({ files: 1, bytes: 8 });
    expect((await lstat(path.join(dest, "docs", "index.md"))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(dest, "docs", "index.md"), "utf8")).toBe("# hello\n");
  });

  it("refuses an archive that writes through one of its own symlinks rather than leave a hole", async () => {
    const input = gzipped([
      { path: `${TOP}/real/`, type: "5" },
      { path: `${TOP}/alias`, type: "2", linkpath: "real" },
      { path: `${TOP}/alias/file.txt`, body: "through the link" },
    ]);

    const error = await refusal(extractTarball(input, dest));

    expect(error.reason).toMatch(/^the source archive could not be unpacked: .*symbolic link/);
    expect(existsSync(dest)).toBe(false);
  });

  it("skips device files and fifos", async () => {
    const input = gzipped([
      { path: `${TOP}/app.js`, body: "1" },
      { path: `${TOP}/null`, type: "3" },
      { path: `${TOP}/pipe`, type: "6" },
    ]);

    await extractTarball(input, dest);

    expect(await readdir(dest)).toEqual(["app.js"]);
  });

  it("refuses something that is not a tarball", async () => {
    const error = await refusal(extractTarball(Readable.from([gzipSync("<html>Not Found</html>")]), dest));
    expect(error.reason).toMatch(/^the source archive could not be unpacked: /);
    expect(existsSync(dest)).toBe(false);
  });

  it("will not unpack into a folder that already holds files", async () => {
    await mkdir(dest);
    await writeFile(path.join(dest, "keep.txt"), "mine");

    await expect(extractTarball(gzipped([{ path: `${TOP}/a`, body: "a" }]), dest)).rejects.toThrow(/empty directory/);
    expect(await readFile(path.join(dest, "keep.txt"), "utf8")).toBe("mine");
  });
});

describe("fetchSource", () => {
  let server: http.Server;
  let baseUrl: string;
  const seen: { url: string; authorization?: string }[] = [];
  let previousTmpdir: string | undefined;

  beforeEach(async () => {
    seen.length = 0;
    // A private os.tmpdir() lets the test see every temp dir fetchSource leaves behind.
    previousTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = path.join(work, "tmp");
    await mkdir(process.env.TMPDIR);
    const archive = gzipSync(
      rawTar([githubPaxHeader(), { path: `${TOP}/`, type: "5" }, { path: `${TOP}/Dockerfile`, body: "FROM scratch\n" }]),
    );
    server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? "", authorization: req.headers.authorization });
      if (req.url === "/api/v3/repos/o/r/tarball/SHA") {
        res.writeHead(302, { location: "/codeload/o/r/legacy.tar.gz/SHA" }).end();
      } else if (req.url === "/codeload/o/r/legacy.tar.gz/SHA") {
        res.writeHead(200, { "content-type": "application/x-gzip" }).end(archive);
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
      }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`;
  });

  afterEach(async () => {
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
    server.close();
    await once(server, "close");
  });

  function octokit() {
    return new ProbotOctokit({
      auth: { token: "x" },
      baseUrl,
      throttle: { enabled: false },
      retry: { enabled: false },
    });
  }

  it("downloads the commit's tarball as the installation, follows the redirect and unpacks it", async () => {
    const source = await fetchSource(octokit(), { owner: "o", repo: "r", sha: "SHA" });

    expect(path.basename(source.dir)).toMatch(/^fly-preview-/);
    expect(path.dirname(source.dir)).toBe(path.join(work, "tmp"));
    expect(await readFile(path.join(source.dir, "Dockerfile"), "utf8")).toBe("FROM scratch\n");
    expect(source).toMatchObject({ files: 1, bytes: 13 });
    expect(source.durationMs).toBeGreaterThanOrEqual(0);
    expect(seen).toEqual([
      { url: "/api/v3/repos/o/r/tarball/SHA", authorization: "token x" },
      { url: "/codeload/o/r/legacy.tar.gz/SHA", authorization: "token x" },
    ]);

    await source.cleanup();
    expect(existsSync(source.dir)).toBe(false);
    await expect(source.cleanup()).resolves.toBeUndefined();
  });

  it("passes on GitHub's error and leaves no temp dir behind", async () => {
    await expect(fetchSource(octokit(), { owner: "o", repo: "r", sha: "GONE" })).rejects.toMatchObject({ status: 404 });
    expect(await readdir(tmpdir())).toEqual([]);
  });
});
