// The webhook function for AWS Lambda (docs/deploy-lambda.md). It verifies the
// signature, records desires and commands in PostgreSQL, and answers; workers run in
// the worker function. A small handler of our own rather than
// @probot/adapter-aws-lambda-serverless: see docs/deploy-lambda.md for why.
import { createProbot, type Probot } from "probot";
import { flyPreview } from "../app.js";
import { readSettings } from "../settings.js";
import { openStore } from "../store/store.js";

/** The parts of API Gateway (REST v1, HTTP v2) and function URL events we read. */
export interface HttpEvent {
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Lambda keeps files on no disk that lasts, and runs many copies at once. */
export function requirePostgres(databaseUrl: string): void {
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error("fly-preview on AWS Lambda requires PostgreSQL: set DATABASE_URL=postgres://… (SQLite needs one machine's lasting disk)");
  }
}

/** Probot and the store, started once per container; every invocation awaits the same start. */
export async function startWebhookApp(env: NodeJS.ProcessEnv): Promise<Probot> {
  const settings = readSettings(env);
  requirePostgres(settings.databaseUrl);
  const probot = createProbot({ env });
  const store = await openStore(settings.databaseUrl);
  await probot.load(flyPreview({ settings, store, worker: false }));
  return probot;
}

const reply = (statusCode: number, body: object): HttpResult => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export async function handleWebhook(probot: Probot, event: HttpEvent): Promise<HttpResult> {
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const id = headers["x-github-delivery"];
  const name = headers["x-github-event"];
  const signature = headers["x-hub-signature-256"];
  const missing = [!id && "X-GitHub-Delivery", !name && "X-GitHub-Event", !signature && "X-Hub-Signature-256"].filter(Boolean);
  if (missing.length) return reply(400, { error: `missing header: ${missing.join(", ")}` });
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? "");

  if (!(await probot.webhooks.verify(body, signature!))) return reply(401, { error: "signature does not match" });
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return reply(400, { error: "body is not JSON" });
  }
  try {
    await probot.receive({ id: id!, name: name as never, payload: payload as never });
  } catch (error) {
    probot.log.error({ err: error, id, event: name }, "webhook handler failed");
    return reply(500, { error: "handler failed; GitHub can redeliver" });
  }
  return reply(200, { ok: true });
}

let started: Promise<Probot> | undefined;

/** The Lambda entry: `dist/lambda/webhook.handler`. */
export async function handler(event: HttpEvent): Promise<HttpResult> {
  // A failed start (the database unreachable, say) is not kept: the next call tries again.
  started ??= startWebhookApp(process.env).catch((error) => {
    started = undefined;
    throw error;
  });
  return handleWebhook(await started, event);
}
