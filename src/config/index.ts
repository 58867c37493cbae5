export {
  CONFIG_PATH,
  type AppConfig,
  type ConfigProblem,
  type ConfigResult,
  type DatabaseConfig,
  type FlyPostgresConfig,
  type NeonConfig,
  type PreviewConfig,
} from "./types.js";
export { parsePreviewConfig } from "./parse.js";
export { loadPreviewConfig, readRepoFile, type ContentsReader, type LoadedConfig } from "./load.js";
export { checkTrigger, type TriggerInput } from "./trigger.js";
export { PREVIEW_VARIABLES, appReferences, interpolate, type AppReference, type AppReferenceProblem, type PreviewVars } from "./interpolate.js";
export { changeRebuilds, pathPatternProblem, resolveAppUrls, touchedBy, type AppsPullRequest } from "./apps.js";
export { parseDuration, parseMemoryMb } from "./units.js";
export { DEFAULT_TTL_MS } from "./schema.js";
