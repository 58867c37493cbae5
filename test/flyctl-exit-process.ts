// A process that starts a flyctl deploy and exits in the middle of it on SIGUSR2, as a
// server does after an uncaught error: for the test that nothing of flyctl outlives it.
import { Flyctl } from "../src/fly/index.js";

const [path, cwd, configPath, app] = process.argv.slice(2);
const flyctl = new Flyctl({ path, token: "fo1_fake-token-4f9a1c2e", org: "personal", retry: { attempts: 1, baseDelayMs: 0 } });
process.on("SIGUSR2", () => process.exit(1));
await flyctl.deploy({ cwd, configPath, app });
