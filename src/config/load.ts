import { parsePreviewConfig } from "./parse.js";
import { CONFIG_PATH, type ConfigResult } from "./types.js";

/** The one Octokit call the loader needs, so tests can pass a small fake; a ProbotOctokit fits. */
export interface ContentsReader {
  rest: {
    repos: {
      getContent(params: {
        owner: string;
        repo: string;
        path: string;
        ref: string;
        mediaType: { format: string };
      }): Promise<{ data: unknown }>;
    };
  };
}

export type LoadedConfig = { found: false } | ({ found: true; text: string } & ConfigResult);

/** Reads and parses .preview.yml at `ref`. A missing file means the repository has not opted in. */
export async function loadPreviewConfig(
  octokit: ContentsReader,
  where: { owner: string; repo: string; ref: string },
): Promise<LoadedConfig> {
  const entry = await readRepoEntry(octokit, { ...where, path: CONFIG_PATH });
  if (entry.kind === "missing") return { found: false };
  if (entry.kind === "directory") {
    return {
      found: true,
      text: "",
      ok: false,
      problems: [{ path: "", message: `${CONFIG_PATH} must be a file, not a directory`, line: 1, column: 1 }],
    };
  }
  return { found: true, text: entry.text, ...parsePreviewConfig(entry.text) };
}

/** The text of one file of the repository at `ref`; undefined when there is no such file. */
export async function readRepoFile(octokit: ContentsReader, where: { owner: string; repo: string; ref: string; path: string }): Promise<string | undefined> {
  const entry = await readRepoEntry(octokit, where);
  return entry.kind === "file" ? entry.text : undefined;
}

async function readRepoEntry(
  octokit: ContentsReader,
  where: { owner: string; repo: string; ref: string; path: string },
): Promise<{ kind: "file"; text: string } | { kind: "missing" } | { kind: "directory" }> {
  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.getContent({ ...where, mediaType: { format: "raw" } }));
  } catch (error) {
    if ((error as { status?: unknown }).status === 404) return { kind: "missing" };
    throw error;
  }
  const text = decode(data);
  // The API answers with a JSON listing when the path is a directory.
  return text === undefined ? { kind: "directory" } : { kind: "file", text };
}

// With format "raw" Octokit hands back a string for text content types and an ArrayBuffer
// for the rest; both appear in practice depending on how GitHub labels the file.
function decode(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return undefined;
}
