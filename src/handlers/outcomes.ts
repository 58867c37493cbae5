import type { Context, Probot } from "probot";
import type { Metrics, WebhookOutcome } from "../metrics/metrics.js";

type Handled = Exclude<WebhookOutcome, "error">;
type EventName = Context["name"];

// The events each app's handlers take: a delivery of any other is counted ignored.
const handledBy = new WeakMap<Probot, Set<string>>();

/**
 * `app.on` for our handlers: each returns what became of the delivery, which is
 * counted with the time it held GitHub's answer; one that throws counts `error`.
 */
export function handle<E extends EventName>(
  app: Probot,
  metrics: Metrics | undefined,
  events: readonly E[],
  handler: (context: Context<E>) => Promise<Handled>,
): void {
  const handled = handledBy.get(app) ?? new Set<string>();
  handledBy.set(app, handled);
  for (const event of events) handled.add(event);
  app.on([...events], async (context) => {
    const started = performance.now();
    const event = eventName(context);
    const installationId = installationOf(context);
    let outcome: WebhookOutcome = "error";
    try {
      outcome = await handler(context as unknown as Context<E>);
    } finally {
      metrics?.webhookHandled(event, outcome, performance.now() - started, installationId);
    }
  });
}

/** Counts deliveries of events no handler of `app` takes, as `handle` registered them. */
export function countIgnored(app: Probot, metrics: Metrics): void {
  app.onAny((context) => {
    const handled = handledBy.get(app);
    const event = eventName(context);
    if (handled?.has(event) || handled?.has(context.name)) return;
    metrics.webhookIgnored(event, installationOf(context));
  });
}

function eventName(context: { name: string; payload: unknown }): string {
  const action = (context.payload as { action?: unknown }).action;
  return typeof action === "string" ? `${context.name}.${action}` : context.name;
}

function installationOf(context: { payload: unknown }): number | undefined {
  return (context.payload as { installation?: { id?: number } }).installation?.id;
}
