export { classifyFailure, FlyError, reasonFor, type FlyErrorKind } from "./errors.js";
export { Redactor } from "./redact.js";
export {
  Flyctl,
  type DeployOptions,
  type DeployResult,
  type FlyApp,
  type FlyctlOptions,
  type OneOffOptions,
  type OneOffResult,
  type PostgresAttachOptions,
} from "./flyctl.js";
export { flyTomlProblems, FlyTomlRefused, renderFlyToml, type FlyTomlInput, type FlyTomlProblem } from "./fly-toml.js";
export { DEFAULT_PRICES_URL, estimateCost, readPriceTable, recordedMachineCost, type MachineSize, type PriceTable } from "./prices.js";
