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
  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.getContent({ ...where, path: CONFIG_PATH, mediaType: { format: "raw" } }));
  } catch (error) {
    if ((error as { status?: unknown }).status === 404) return { found: false };
    throw error;
  }
  const text = decode(data);
  if (text === undefined) {
    // The API answers with a JSON listing when the path is a directory.
    return {
      found: true,
      text: "",
      ok: false,
      problems: [{ path: "", message: `${CONFIG_PATH} must be a file, not a directory`, line: 1, column: 1 }],
    };
  }
  return { found: true, text, ...parsePreviewConfig(text) };
}

// With format "raw" Octokit hands back a string for text content types and an ArrayBuffer
// for the rest; both appear in practice depending on how GitHub labels the file.
function decode(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return undefined;
}
