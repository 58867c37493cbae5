import type { Octokit } from "./octokit.js";
import { isContentWrite, pauseOf } from "./write-pace.js";

export type RequestResult = "ok" | "client_error" | "rate_limited" | "server_error" | "network_error";

/**
 * Tells `observe` of every HTTP request `octokit` sends, each attempt of a retried one:
 * a content write or a read (the pace's rule), and how GitHub answered. At the fetch,
 * like the pace (write-pace.ts), so the requests counted are the ones GitHub got.
 */
export function observeRequests(octokit: Octokit, observe: (kind: "read" | "write", result: RequestResult) => void): Octokit {
  octokit.hook.wrap("request", (request, options) => {
    const send: typeof fetch = options.request?.fetch ?? globalThis.fetch;
    const observed = async (url: string, init?: RequestInit): Promise<Response> => {
      const kind = isContentWrite(init?.method, url) ? "write" : "read";
      let response: Response;
      try {
        response = await send(url, init);
      } catch (error) {
        observe(kind, "network_error");
        throw error;
      }
      observe(kind, await resultOf(response));
      return response;
    };
    // As in paceWrites: in place, on a `request` object of this request's own.
    options.request = { ...options.request, fetch: observed };
    return request(options);
  });
  return octokit;
}

async function resultOf(response: Response): Promise<RequestResult> {
  if (response.status < 400) return "ok";
  if ((await pauseOf(response)) !== undefined) return "rate_limited";
  return response.status >= 500 ? "server_error" : "client_error";
}
