import { run } from "probot";
import { flyPreview } from "./app.js";
import { SecretsError } from "./secrets/index.js";
import { readSettings, SettingsError } from "./settings.js";

// `npm start`: Probot's own server. Without APP_ID it serves the setup page that
// registers the GitHub App from app.yml; with it, our handlers and workers run.
try {
  const settings = readSettings();
  await run(flyPreview({ settings }));
} catch (error) {
  if (error instanceof SettingsError || error instanceof SecretsError) {
    console.error(`fly-preview: configuration error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
