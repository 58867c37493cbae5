export { classifyFailure, FlyError, reasonFor, type FlyErrorKind } from "./errors.js";
export { Redactor } from "./redact.js";
export { Flyctl, type DeployOptions, type DeployResult, type FlyApp, type FlyctlOptions } from "./flyctl.js";
export { renderFlyToml, type FlyTomlInput } from "./fly-toml.js";
