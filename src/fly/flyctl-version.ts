import { Flyctl, PINNED_FLYCTL_VERSION } from "./flyctl.js";

/**
 * What is wrong with the flyctl at `path` (FLYCTL_PATH): missing, not executable, or
 * not the pinned version; undefined when it is the pinned one. Each message names the
 * path it looked at.
 */
export async function flyctlProblem(path: string): Promise<string | undefined> {
  const where = path.includes("/") ? `"${path}"` : `"${path}" (looked up on PATH)`;
  let version: string;
  try {
    version = await new Flyctl({ path, org: "personal" }).version();
  } catch (error) {
    // "flyctl was not found at …; install it or set FLYCTL_PATH" and the like.
    return path.includes("/") ? (error as Error).message : `${(error as Error).message} (looked up on PATH)`;
  }
  if (version === PINNED_FLYCTL_VERSION) return undefined;
  return (
    `flyctl at ${where} is v${version}, but fly-preview is made for v${PINNED_FLYCTL_VERSION} (the Dockerfile's): ` +
    `flags and messages differ between versions, so deploys may fail; install v${PINNED_FLYCTL_VERSION} or point FLYCTL_PATH at it`
  );
}
