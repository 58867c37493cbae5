/** The names of the ${…} placeholders of env and build_args: the one list of them. */
export const PREVIEW_VARIABLES = ["PR_NUMBER", "PREVIEW_URL", "APP_NAME", "HEAD_SHA", "HEAD_REF"] as const;

export type PreviewVars = Record<(typeof PREVIEW_VARIABLES)[number], string>;

// Only these five names are replaced: anything else that looks like ${X} may be meant for
// the application itself, so it passes through untouched. One pass, so a branch name that
// contains "${APP_NAME}" is inserted literally and never expanded again.
const VARIABLE = new RegExp(`\\$\\{(${PREVIEW_VARIABLES.join("|")})\\}`, "g");

export function interpolate(values: Record<string, string>, vars: PreviewVars): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    result[name] = value.replace(VARIABLE, (_, variable: keyof PreviewVars) => vars[variable]);
  }
  return result;
}
