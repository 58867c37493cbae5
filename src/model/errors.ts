/**
 * A setting the operator must fix (a missing or malformed variable, an unreachable
 * database): start-up and the CLI print its message as one `configuration error` line
 * instead of a stack trace. Here, in the leaf, so the store can throw it too.
 */
export class SettingsError extends Error {}
