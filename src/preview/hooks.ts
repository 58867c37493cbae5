import type { PreviewConfig } from "../config/index.js";
import { FlyError, type Flyctl } from "../fly/index.js";
import { hookExitReason, hookMachineLeftReason, hookNotRunReason, hookTimeoutReason } from "../github/messages.js";
import type { Metrics } from "../metrics/metrics.js";
import type { HookShown } from "../model/pull-request.js";
import type { FlyMachine } from "./fly-config.js";
import { deadline, LimitExceeded } from "./limits.js";

// The hooks of .preview.yml that fly-preview runs itself (docs/hooks.md): postdeploy and
// predestroy, each once in a one-off machine of the preview's app (`flyctl console
// --command`, see Flyctl.runOneOff). The release hook is Fly's own release_command.

/** How a hook runs: its command, limit and machine. Remembered for predestroy (`predestroy_hook`). */
export interface HookSpec {
  command: string;
  /** hooks.timeout as written, for the reason a timeout gives. */
  timeout: string;
  timeoutMs: number;
  region: string;
  memoryMb: number;
  cpus: number;
  cpuKind: string;
}

/** A hook that ran, and the last lines it printed (redacted). */
export type HookRun = HookShown & { tail: string[] };

/** The spec of `command` under `hooks`, on the preview's own machine (`FlyDeploy.machine`): its size and region. */
export function hookSpec(command: string, hooks: PreviewConfig["hooks"], machine: FlyMachine): HookSpec {
  return { command, timeout: hooks.timeout, timeoutMs: hooks.timeoutMs, ...machine };
}

/** A remembered spec, or undefined when the row holds none (or one this version cannot read). */
export function readHookSpec(json: string | null): HookSpec | undefined {
  if (!json) return undefined;
  try {
    const spec = JSON.parse(json) as HookSpec;
    return typeof spec.command === "string" && typeof spec.timeoutMs === "number" ? spec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one hook under its timeout. Its failure (a non-zero exit, the timeout, flyctl not
 * getting a machine) is the result, not an exception: the caller shows it. A stop from
 * `signal` (the run superseded, the server shutting down) is thrown as it is.
 */
export async function runHook(
  deps: { flyctl: Flyctl; metrics?: Metrics; installationId?: number },
  app: string,
  name: HookShown["name"],
  spec: HookSpec,
  signal: AbortSignal,
): Promise<HookRun> {
  const limit = deadline(signal, spec.timeoutMs, hookTimeoutReason(spec.timeout));
  const started = Date.now();
  const shown = { name, command: spec.command };
  const ended = (result: "ok" | "failed" | "timeout" | "error", run: Omit<HookRun, "name" | "command">): HookRun => {
    deps.metrics?.hookRan(name, result, deps.installationId);
    return { ...shown, ...run };
  };
  try {
    const { exitCode, tail, durationMs } = await deps.flyctl.runOneOff({
      app,
      command: spec.command,
      region: spec.region,
      memoryMb: spec.memoryMb,
      cpus: spec.cpus,
      cpuKind: spec.cpuKind,
      signal: limit.signal,
    });
    if (exitCode === 0) return ended("ok", { ok: true, durationMs, tail });
    return ended("failed", { ok: false, durationMs, tail, reason: hookExitReason(exitCode) });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const durationMs = Date.now() - started;
    const tail = error instanceof FlyError ? error.tail : [];
    if (limit.signal.reason instanceof LimitExceeded) {
      // flyctl, stopped, leaves its console machine running: destroy it, or say it is left.
      const left = await deps.flyctl.destroyConsoleMachines(app).then(
        () => "",
        (cleanup: unknown) => hookMachineLeftReason(deps.flyctl.redactor.redact(cleanup instanceof FlyError ? (cleanup.detail ?? cleanup.reason) : String(cleanup))),
      );
      return ended("timeout", { ok: false, durationMs, tail, reason: limit.signal.reason.message + left });
    }
    const detail = error instanceof FlyError ? (error.detail ?? error.reason) : String(error);
    return ended("error", { ok: false, durationMs, tail, reason: hookNotRunReason(deps.flyctl.redactor.redact(detail)) });
  } finally {
    limit.clear();
  }
}
