import { Flyctl } from "../fly/index.js";
import { SecretStore } from "../secrets/index.js";
import type { Reaped, ReapReport } from "../preview/reaper.js";
import { CliError, type CliCommand, type Context } from "./command.js";
import { duration, flyAppsText, isoTime } from "./format.js";

export const gc: CliCommand = {
  name: "gc",
  args: [],
  flags: [{ name: "dry-run", help: "report what would be cleaned up, change nothing" }],
  summary: "destroy orphaned Fly apps and databases, retry failed destroys, expire idle previews",
  details:
    "Orphaned apps are destroyed here, with flyctl (FLYCTL_PATH, FLY_API_TOKEN, FLY_ORG); retried and expired previews get a destroy desire that the running server carries out.",
  async run(args, ctx) {
    const dryRun = args.switches.has("dry-run");
    const settings = ctx.settings();
    const store = await ctx.store();
    const flyctl = new Flyctl({ path: settings.flyctlPath, token: settings.flyApiToken, org: settings.flyOrg });
    // The report is the output; only warnings are worth interrupting it for.
    const log = {
      info() {},
      warn(obj: object, msg?: string) {
        ctx.warn(`warning: ${msg ?? ""} ${JSON.stringify(obj)}`.trim());
      },
    };
    const secrets = new SecretStore(store.db, settings.secretsKey);
    const report = await ctx.reap({ store, flyctl, log, settings, secrets }, { dryRun });
    printReport(report, dryRun, ctx);
    // Non-zero: a script must not read an incomplete report as "nothing to clean up".
    if (report.orphansUnchecked) throw new CliError(`could not list Fly apps (${report.orphansUnchecked}): orphaned apps not checked`);
  },
};

function printReport(report: ReapReport, dryRun: boolean, ctx: Context): void {
  const { orphans, retried, expired, reminded, databases } = report;
  if (orphans.length + retried.length + expired.length + reminded.length + databases.length === 0) {
    ctx.print(report.orphansUnchecked ? "no failed destroy to retry, no idle preview to expire" : "nothing to clean up");
    return;
  }
  for (const o of orphans) {
    ctx.print(`${dryRun ? "would destroy" : "destroyed"} orphaned app ${o.app} (${o.repo}#${o.number}): ${o.reason}`);
  }
  for (const r of retried) {
    ctx.print(`${dryRun ? "would retry" : "retrying"} the failed destroy of ${r.repo}#${r.number} (${flyApps(r)})`);
  }
  for (const e of expired) {
    ctx.print(`${dryRun ? "would expire" : "expired"} ${e.repo}#${e.number} (${flyApps(e)}), idle for ${duration(e.idleMs)}`);
  }
  for (const r of reminded) {
    ctx.print(`${dryRun ? "would remind" : "reminded"} ${r.repo}#${r.number} (${flyApps(r)}) that it expires at ${isoTime(r.expiresAt)}`);
  }
  for (const d of databases) {
    const what = d.provider === "neon" ? `Neon branch ${d.name} of project ${d.home}` : `database ${d.name} on Fly Postgres cluster ${d.home}`;
    const done = d.outcome === "failed" ? "could not drop (see the warning above; the next pass tries again)" : d.outcome === "absent" ? "found already gone:" : "dropped";
    ctx.print(`${dryRun ? "would drop" : done} ${what} (${d.repo}#${d.number}): its preview is destroyed`);
  }
  if (dryRun) ctx.print("dry run: nothing was changed");
  else if (retried.length + expired.length > 0) ctx.print("the running fly-preview server carries out the destroys asked for");
}

/** A preview's Fly app; for a pull request with several apps, theirs (its own row has none). */
function flyApps(r: Reaped): string {
  return flyAppsText(r.apps ?? [r.app]);
}
