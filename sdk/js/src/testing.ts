/**
 * Run a tool's functions in Node, for its own tests.
 *
 * `ToolRunner` plays Warden's part: it hands out the secrets you give it
 * (only declared ones, never a credential), keeps log records, and sends the
 * tool's `fetch` requests under the host's rules: only the tool's
 * `allowedHosts` (plus `allowHosts`, for local stand-ins) are reachable,
 * redirects are returned rather than followed, and declared credentials are
 * added to requests for their hosts (plus `credentialHosts`, as `warden tool
 * call --credential-host` adds them):
 *
 * ```ts
 * const runner = new ToolRunner(weather, { config: { unit: "celsius" }, secrets: { api_key: "test" } });
 * assert.equal((await runner.call("forecast", { city: "Lisbon" })).city, "Lisbon");
 * ```
 *
 * A runner given a `call` runs every call during that phone call
 * (`ctx.call`), and `runner.spoken` is the line the last call asked to be
 * spoken:
 *
 * ```ts
 * const runner = new ToolRunner(receptionist, {
 *   config: { contacts: { "+15550100199": "Ada" } },
 *   call: { callerNumber: "+15550100199" },
 * });
 * await runner.call("identify_caller");
 * assert.equal(runner.spoken, "Hello Ada, good to hear from you again!");
 * ```
 *
 * Arguments and configuration are validated against the tool's JSON Schemas
 * (2020-12, with ajv) as Warden validates them before a call, then parsed
 * with the tool's zod schemas as in Warden. (Warden's patterns run on a
 * linear-time engine without look-around; ajv's are JavaScript's.)
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { InvalidArguments } from "./errors";
import { install, type Host, type Level } from "./host";
import type { CallContext, CallDirection, JsonSchema, Metadata, Tool } from "./tool";

/** The OAuth2 secrets the host keeps to itself (its `oauth::SECRET_NAMES`). */
const OAUTH_SECRETS = ["access_token", "access_token_expires_at", "refresh_token", "client_id", "client_secret"];

export interface RunnerOptions {
  /** The agent's configuration for the tool (JSON data). */
  config?: Record<string, unknown>;
  /** Secret values by name, credentials included. */
  secrets?: Record<string, string>;
  /** Origins reachable besides the tool's `allowedHosts`, e.g. a stand-in's. */
  allowHosts?: string[];
  /** More hosts that get a credential, by secret name. */
  credentialHosts?: Record<string, string[]>;
  callId?: string;
  organizationId?: string;
  agentId?: string | null;
  /** The phone call the calls are made during [default: none]. */
  call?: TestCall;
  /** `ctx.timeLeftMs` [default: 10 000]. */
  timeLeftMs?: number;
}

/** A phone call for a test: `sessionId` defaults to `test-session`,
 * `direction` to `inbound`, the rest to `null`. */
export interface TestCall {
  sessionId?: string;
  direction?: CallDirection;
  callerNumber?: string | null;
  agentNumber?: string | null;
  room?: string | null;
}

/** A request the tool sent, as the service received it. */
export interface SentRequest {
  method: string;
  url: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export class ToolRunner {
  readonly metadata: Metadata;
  /** Every `[level, message]` the tool logged, in order. */
  readonly logs: [Level, string][] = [];
  /** Every request the tool sent, credentials added. */
  readonly requests: SentRequest[] = [];
  /** The line the last call asked to be spoken (`ctx.speak`); `null` when
   * it asked for none or threw. */
  spoken: string | null = null;
  readonly #tool: Tool;
  readonly #options: RunnerOptions;

  constructor(tool: Tool, options: RunnerOptions = {}) {
    this.#tool = tool;
    this.metadata = tool.metadata;
    this.#options = options;
  }

  /** Runs `fn` with `args`: its result as decoded JSON, or the `ToolError` it threw. */
  async call(fn: string, args: Record<string, unknown> = {}): Promise<any> {
    const spec = this.metadata.functions.find((f) => f.name === fn);
    if (spec === undefined) throw new Error(`${this.metadata.name} has no function ${JSON.stringify(fn)}`);
    check(spec.parameters, args, "arguments");
    this.spoken = null;
    const { json, spoken } = await this.#run(() => this.#tool.invoke(this.#call(), fn, JSON.stringify(args)));
    this.spoken = spoken;
    return JSON.parse(json);
  }

  /** Runs the tool's self-check. */
  async test(): Promise<any> {
    return JSON.parse(await this.#run(() => this.#tool.test(this.#call())));
  }

  #call(): CallContext {
    const o = this.#options;
    check(this.metadata.configSchema, o.config ?? {}, "config");
    const call = o.call;
    return {
      callId: o.callId ?? "test-call",
      organizationId: o.organizationId ?? "test-organization",
      agentId: o.agentId === undefined ? "test-agent" : o.agentId,
      config: JSON.stringify(o.config ?? {}),
      call: call && {
        sessionId: call.sessionId ?? "test-session",
        direction: call.direction ?? "inbound",
        callerNumber: call.callerNumber ?? null,
        agentNumber: call.agentNumber ?? null,
        room: call.room ?? null,
      },
      remainingMs: o.timeLeftMs ?? 10_000,
    };
  }

  async #run<T>(call: () => Promise<T>): Promise<T> {
    const previous = install(this.#host());
    const nativeFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => this.#send(nativeFetch, new Request(input, init));
    try {
      return await call();
    } finally {
      globalThis.fetch = nativeFetch;
      install(previous);
    }
  }

  #host(): Host {
    const declared = new Set(this.metadata.secrets.map((s) => s.name));
    const hostOnly = new Set(this.metadata.credentials.map((c) => c.secret));
    if (this.metadata.oauth) for (const name of OAUTH_SECRETS) if (declared.has(name)) hostOnly.add(name);
    const secrets = this.#options.secrets ?? {};
    return {
      secret(name) {
        if (!declared.has(name)) return { error: "not-declared" };
        if (!Object.hasOwn(secrets, name)) return { error: "not-set" };
        if (hostOnly.has(name)) return { error: "host-only" };
        return secrets[name];
      },
      log: (level, message) => {
        this.logs.push([level, message]);
      },
    };
  }

  /** One request under the host's rules. As the host's `wasi:http` under
   * StarlingMonkey's `fetch`, a redirect is answered as it is, never
   * followed. */
  async #send(nativeFetch: typeof fetch, request: Request): Promise<Response> {
    const o = this.#options;
    const allowed = [...this.metadata.allowedHosts, ...(o.allowHosts ?? [])];
    if (!allowed.some((pattern) => hostMatches(pattern, request.url))) {
      throw new TypeError(`fetch failed: the host's policy denies requests to ${new URL(request.url).origin} (HTTP_REQUEST_DENIED)`);
    }
    const headers = new Headers(request.headers);
    for (const c of this.metadata.credentials) {
      const value = o.secrets?.[c.secret];
      const hosts = [...c.hosts, ...(o.credentialHosts?.[c.secret] ?? [])];
      if (value !== undefined && hosts.some((pattern) => hostMatches(pattern, request.url))) {
        headers.set(c.header, c.format.replaceAll("{}", value));
      }
    }
    const body = request.body === null ? undefined : await request.clone().arrayBuffer();
    this.requests.push({
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(headers),
      body: body === undefined ? "" : new TextDecoder().decode(body),
    });
    return nativeFetch(request.url, { method: request.method, headers, body, redirect: "manual" });
  }
}

/** Whether `url` is on a host `pattern` (`scheme://host[:port]`, with an
 * optional leading `*.` label wildcard) names, as the host decides it. */
export function hostMatches(pattern: string, url: string): boolean {
  let want: URL;
  let got: URL;
  try {
    want = new URL(pattern.replace("://*.", "://wildcard."));
    got = new URL(url);
  } catch {
    return false;
  }
  if (want.protocol !== got.protocol) return false;
  if (want.port !== got.port) return false; // URL drops default ports on both sides
  const host = got.hostname.toLowerCase();
  if (pattern.includes("://*.")) {
    const suffix = want.hostname.slice("wildcard".length).toLowerCase();
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return host === want.hostname.toLowerCase();
}

/** Validates as Warden does: JSON Schema 2020-12, formats as annotations. */
const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/** `value` against `schema`, as Warden validates arguments and configuration
 * before a call. */
function check(schema: JsonSchema, value: unknown, where: string): void {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(value)) {
    const error = validate.errors?.[0];
    const at = error?.instancePath ? ` at ${error.instancePath}` : "";
    throw new InvalidArguments(`${where}${at}: ${error?.message ?? "do not match the schema"}`);
  }
}
