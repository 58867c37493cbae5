// A delivery whose signature does not match WEBHOOK_SECRET is logged by Probot twice,
// each time with the whole payload and a stack (its webhooks error handler, then the
// webhooks middleware: probot/lib/helpers/get-error-handler.js and @octokit/webhooks'
// node middleware): screens of output for what one line says. A wrong WEBHOOK_SECRET
// makes that every delivery, and a forged one should not fill the log either.

// @octokit/webhooks' verify-and-receive.js: the error it raises for a mismatch, with the
// delivery ({ id, name, payload, signature }) as its `event`.
const MISMATCH = "signature does not match event payload and secret";

interface SignatureError extends Error {
  event?: { id?: string; name?: string };
}

interface Logger {
  error(...args: unknown[]): void;
  child(...args: unknown[]): Logger;
}

function signatureError(value: unknown): SignatureError | undefined {
  const error = value instanceof AggregateError ? value.errors[0] : value;
  return error instanceof Error && error.message.includes(MISMATCH) ? error : undefined;
}

/**
 * Makes `log` (Probot's app log, the one its webhooks and middleware log through) and
 * its children report each badly signed delivery in one line: event, delivery id and
 * the reason, never the payload.
 */
export function reportBadSignaturesInOneLine(log: Logger): void {
  const reported = new WeakSet<Error>();
  const wrap = (logger: Logger): Logger => {
    const { error, child } = logger;
    logger.error = function (this: Logger, first: unknown, ...rest: unknown[]) {
      const mismatch = signatureError(first);
      if (!mismatch) return error.call(this, first, ...rest);
      if (reported.has(mismatch)) return;
      reported.add(mismatch);
      const { name, id } = mismatch.event ?? {};
      error.call(this, { event: name, delivery: id }, `webhook ${name} (delivery ${id}) rejected: signature does not match WEBHOOK_SECRET`);
    };
    logger.child = function (this: Logger, ...args: unknown[]) {
      return wrap(child.apply(this, args));
    };
    return logger;
  };
  wrap(log);
}
