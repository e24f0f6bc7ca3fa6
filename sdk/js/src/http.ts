/**
 * Outbound HTTP is the platform's `fetch`: inside Warden it goes through the
 * host's `wasi:http` and its policy (only the tool's `allowedHosts` are
 * reachable; credentials are added by the host), in tests through
 * `ToolRunner`'s stand-in for that policy.
 */
import {
  Internal,
  NotFound,
  RateLimited,
  ToolError,
  Unauthorized,
  Upstream,
} from "./errors";

/**
 * Returns `response` when its status is 2xx; otherwise throws the matching
 * `ToolError` (401/403 `Unauthorized`, 404 `NotFound`, 429 `RateLimited`,
 * others `Upstream`), with `what` naming the request for the LLM, e.g.
 * `"sending the text"`. The response body is not put into the message:
 * upstream error bodies can echo what was sent.
 */
export function checkStatus(response: Response, what = "the request"): Response {
  const status = response.status;
  if (status >= 200 && status < 300) return response;
  throw statusError(status, what);
}

/** The `ToolError` for an upstream status. */
export function statusError(status: number, what = "the request"): ToolError {
  if (status === 401 || status === 403) {
    return new Unauthorized(`the service refused the tool's credentials (${status}) for ${what}`);
  }
  if (status === 404) return new NotFound(`the service found nothing for ${what} (404)`);
  if (status === 429) return new RateLimited(`the service asked to slow down (429) for ${what}`);
  if (status >= 300 && status < 400) {
    return new Upstream(`the service redirected ${what} (${status})`);
  }
  if (status >= 400 && status < 600) return new Upstream(`the service failed ${what} (${status})`);
  return new Internal(`unexpected status ${status} for ${what}`);
}
