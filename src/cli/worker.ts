import { SettingsError } from "../settings.js";
import { runWorkers } from "../worker.js";
import { CliError, type Command } from "./command.js";

export const worker: Command = {
  name: "worker",
  args: [],
  flags: [],
  summary: "run the workers without the webhook server, until SIGTERM or SIGINT",
  details:
    "Carries out desires and commands recorded by the webhook servers (or the Lambda webhook) that share DATABASE_URL, " +
    "and runs the reaper. Start as many as you like on PostgreSQL: leases keep each pull request with one worker. " +
    "Needs the server's variables, the GitHub App's credentials (APP_ID, PRIVATE_KEY) included. " +
    "With METRICS_PORT it serves /metrics and /healthz on that port.",
  async run(_args, ctx) {
    let runtime;
    try {
      runtime = await runWorkers(ctx.settings(), ctx.env);
    } catch (error) {
      if (error instanceof SettingsError) throw error;
      throw new CliError((error as Error).message);
    }
    ctx.print(`workers started (${ctx.settings().concurrency} at once); stop with SIGTERM`);
    // `on`, not `once`: execa's exit hook re-raises a signal no other listener is left
    // to handle, which would kill the process before the leases are released.
    await new Promise<void>((resolve) => {
      process.on("SIGTERM", () => resolve());
      process.on("SIGINT", () => resolve());
    });
    // Running flyctl processes are stopped and their leases released, so another
    // worker picks their previews up at once.
    await runtime.pool.stop();
    await new Promise((resolve) => (runtime.metricsServer ? runtime.metricsServer.close(resolve) : resolve(undefined)));
    await runtime.store.close();
    ctx.print("workers stopped");
  },
};
