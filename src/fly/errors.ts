export type FlyErrorKind =
  | "transient"
  | "name_taken"
  | "not_found"
  | "auth"
  | "no_token"
  | "build"
  | "health"
  | "release"
  | "config"
  | "cancelled"
  | "unknown";

export class FlyError extends Error {
  readonly kind: FlyErrorKind;
  readonly exitCode?: number;
  /** The last lines flyctl printed, already redacted. */
  readonly tail: string[];
  /** One plain line a user can act on; `message` adds flyctl's own error line. */
  readonly reason: string;
  /** flyctl's own error line (after "Error: "), when it printed one. */
  readonly detail?: string;

  /** `details.detail`: flyctl's own error line when the caller knows it (read from its stderr); else the tail's last. */
  constructor(kind: FlyErrorKind, reason: string, details: { exitCode?: number; tail?: string[]; detail?: string } = {}) {
    const tail = details.tail ?? [];
    const flyctlSays = details.detail ?? lastErrorLine(tail);
    super(flyctlSays ? `${reason}: ${flyctlSays}` : reason);
    this.name = "FlyError";
    this.kind = kind;
    this.exitCode = details.exitCode;
    this.tail = tail;
    this.reason = reason;
    this.detail = flyctlSays;
  }
}

/** The plain line shown to users for a failure of this kind. */
export function reasonFor(kind: FlyErrorKind, exitCode?: number): string {
  switch (kind) {
    case "transient":
      return "Fly.io kept failing with a temporary error";
    case "name_taken":
      return "The Fly.io app name is already taken";
    case "not_found":
      return "The Fly.io app does not exist";
    case "auth":
      return "Fly.io rejected the access token (FLY_API_TOKEN)";
    case "no_token":
      return "FLY_API_TOKEN is not set on the fly-preview server";
    case "build":
      return "The Docker build failed";
    case "health":
      return "The app did not pass its health checks in time";
    case "release":
      return "The release command failed, so the deploy stopped before any machine was updated";
    case "config":
      return "flyctl rejected the deploy configuration";
    case "cancelled":
      return "The flyctl run was cancelled";
    case "unknown":
      return exitCode === undefined ? "flyctl failed" : `flyctl failed with exit code ${exitCode}`;
  }
}

// flyctl prints "Error: ..." last; lines before it are build or release logs whose
// words ("connection refused" from the user's own app, say) must not decide the kind.
function errorSection(output: string): string {
  const lines = output.split(/\r?\n/);
  const start = lines.findIndex((line) => line.startsWith("Error: "));
  return start === -1 ? output : lines.slice(start).join("\n");
}

function lastErrorLine(tail: string[]): string | undefined {
  for (let i = tail.length - 1; i >= 0; i--) {
    if (tail[i]!.startsWith("Error: ")) return tail[i]!.slice("Error: ".length);
  }
  return undefined;
}

// Ordered: the first match wins, so the specific permanent failures come before the
// transient network words that often appear inside their descriptions.
const RULES: Array<[FlyErrorKind, RegExp]> = [
  ["name_taken", /Name has already been taken/i],
  ["not_found", /\bapp not found\b|Could not find App\b|Could not resolve App\b/i],
  [
    "auth",
    /no access token available|You must be authenticated|not authorized|unauthorized|token validation error|\b401\b/i,
  ],
  ["build", /failed to fetch an image or build from source/i],
  // machines_deploymachinesapp.go: "release command failed - aborting deployment. <why>".
  ["release", /^Error: release command failed - aborting deployment/m],
  ["health", /timeout reached waiting for health checks/i],
  [
    "config",
    /unknown (?:flag|shorthand flag|command)|flag needs an argument|yes flag must be specified|prompt: non interactive|failed loading app config|Could not find Organization|Secrets must be provided as NAME=VALUE pairs/i,
  ],
  [
    "transient",
    /connection reset by peer|connection refused|i\/o timeout|temporary failure in name resolution|failed to obtain lease|failed to acquire leases|machine not found|\b(?:408|429|50\d) (?:Request Timeout|Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b|status(?: code)?:? ?(?:408|429|5\d\d)\b/i,
  ],
];

/** Decides whether a failed flyctl run is worth retrying, per the flyctl reference. */
export function classifyFailure(exitCode: number | undefined, output: string): FlyErrorKind {
  if (exitCode === 127) return "cancelled";
  const section = errorSection(output);
  for (const [kind, pattern] of RULES) {
    if (pattern.test(section)) return kind;
  }
  if (exitCode === 126) return "transient";
  return "unknown";
}
