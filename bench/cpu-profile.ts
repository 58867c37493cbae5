// Loaded into each server the bench starts (`--import`) when BENCH_CPU_PROF names a
// directory: SIGUSR2 starts V8's sampling profiler, the next SIGUSR2 stops it and
// writes `<BENCH_CPU_PROF>/<BENCH_CPU_PROF_NAME>-<pid>.cpuprofile`. The bench sends
// the two signals around the timed deliveries, so a profile holds the timed phase only
// (not start-up, not warm-up). `--cpu-prof` cannot do that, and writes nothing for a
// process that is SIGKILLed. Read the files with bench/profile-summary.ts, or open
// them in Chrome's DevTools.
import { renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  let profiling = false;
  process.on("SIGUSR2", () => {
    void (async () => {
      if (!profiling) {
        profiling = true;
        await post("Profiler.enable");
        // Microseconds between samples: 1 ms (V8's default) gives too few for a one-second phase.
        await post("Profiler.setSamplingInterval", { interval: 200 });
        await post("Profiler.start");
        return;
      }
      profiling = false;
      const { profile } = (await post("Profiler.stop")) as { profile: unknown };
      const file = join(dir, `${process.env.BENCH_CPU_PROF_NAME ?? "server"}-${process.pid}.cpuprofile`);
      // Written aside and renamed: the bench waits for the name, and must never read half a file.
      writeFileSync(`${file}.part`, JSON.stringify(profile));
      renameSync(`${file}.part`, file);
    })().catch((error) => console.error(`bench cpu profile: ${error}`));
  });
}
