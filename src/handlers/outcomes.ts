import type { Context, Probot } from "probot";
import type { Metrics, WebhookOutcome } from "../metrics/metrics.js";

type Handled = Exclude<WebhookOutcome, "error">;
type EventName = Context["name"];
type Route = (context: Context) => Promise<void>;

interface Routes {
  /** Our handlers by what each takes: an event with its action (`pull_request.opened`), or an event name (`push`). */
  handlers: Map<string, Route[]>;
  /** Where a delivery no handler takes is counted (countIgnored); none: it is not counted. */
  metrics?: Metrics;
}

const routesByApp = new WeakMap<Probot, Routes>();

/**
 * The one Probot hook of `app`: every delivery reaches our handlers through it. Probot
 * builds a context for each hook a delivery matches (an authenticated Octokit and a
 * child logger: much of what an empty Probot app spends on a webhook) before calling
 * it, so a hook per handler plus one (`onAny`) counting the deliveries no handler takes
 * built two for every webhook we handle, which cost more CPU than all our own work on it
 * (docs/benchmarks.md, Results). Here each delivery gets one context, as in bare Probot.
 */
function routesOf(app: Probot): Routes {
  const known = routesByApp.get(app);
  if (known) return known;
  const routes: Routes = { handlers: new Map() };
  routesByApp.set(app, routes);
  app.onAny(async (event) => {
    // Probot's types give `onAny` the bare event; it is called with Probot's context.
    const context = event as unknown as Context;
    const name = eventName(context);
    // In @octokit/webhooks' order: the handlers of the action first, then those of the event.
    const matching = [...(name === context.name ? [] : (routes.handlers.get(name) ?? [])), ...(routes.handlers.get(context.name) ?? [])];
    if (matching.length === 0) {
      routes.metrics?.webhookIgnored(name, installationOf(context));
      return;
    }
    if (matching.length === 1) return matching[0]!(context);
    // Each runs to its end, as separate hooks would; the first failure fails the delivery.
    const failed = (await Promise.allSettled(matching.map((route) => route(context)))).find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  });
  return routes;
}

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
  const { handlers } = routesOf(app);
  const route: Route = async (context) => {
    const started = performance.now();
    let outcome: WebhookOutcome = "error";
    try {
      outcome = await handler(context as unknown as Context<E>);
    } finally {
      metrics?.webhookHandled(eventName(context), outcome, performance.now() - started, installationOf(context));
    }
  };
  for (const event of events) handlers.set(event, [...(handlers.get(event) ?? []), route]);
}

/** Counts the deliveries of events no handler of `app` takes. */
export function countIgnored(app: Probot, metrics: Metrics): void {
  routesOf(app).metrics = metrics;
}

/** The events `app`'s handlers take, as `handle` was given them. */
export function handledEvents(app: Probot): string[] {
  return [...(routesByApp.get(app)?.handlers.keys() ?? [])];
}

function eventName(context: { name: string; payload: unknown }): string {
  const action = (context.payload as { action?: unknown }).action;
  return typeof action === "string" ? `${context.name}.${action}` : context.name;
}

function installationOf(context: { payload: unknown }): number | undefined {
  return (context.payload as { installation?: { id?: number } }).installation?.id;
}
