/**
 * A tool is a plain object handed to `defineTool`: its description, its
 * settings and its functions become the component's metadata; calls are
 * dispatched to the functions.
 *
 * Schemas are zod schemas (their JSON Schema goes into the metadata, and
 * arguments and configuration are parsed with them, defaults applied) or
 * plain JSON Schemas (passed through as they are).
 *
 * Nothing here touches WebAssembly: the host (the component's imports, or
 * `ToolRunner`'s native stand-in) is reached through `host()`.
 */
import { z } from "zod";
import { InvalidArguments, Internal, NotConfigured, ToolError } from "./errors";
import { host } from "./host";

/** What the host accepts as a tool's or a function's name. */
export const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** A JSON Schema, as a plain object. */
export type JsonSchema = { [keyword: string]: unknown };

/** A zod schema or a plain JSON Schema. */
export type Schema = z.ZodType | JsonSchema;

/** The value a schema describes: zod's output type, or any JSON object. */
export type Infer<S> = S extends z.ZodType ? z.output<S> : Record<string, any>;

/** A secret the tool declares: the operator sets it; the tool reads it with
 * `ctx.secret(name)`, or never sees it when it is a credential. */
export interface SecretSpec {
  name: string;
  /** What the operator must provide, shown in the management UI. */
  description: string;
  /** Whether the tool cannot work without it (default true). */
  required?: boolean;
}

/** A declared secret the host puts into the tool's requests to `hosts` (as
 * header `header`, `format` with `{}` for the value): the tool uses it
 * without ever reading it. */
export interface CredentialSpec {
  secret: string;
  hosts: string[];
  /** Default `authorization`. */
  header?: string;
  /** Default `Bearer {}`. */
  format?: string;
}

/** OAuth2 settings, when the tool's credentials are tokens the host refreshes. */
export interface OAuthSpec {
  authorizeUrl: string;
  tokenUrl: string;
  scopes?: string[];
}

/** Which way a phone call goes: someone called the agent (`inbound`), or
 * the agent called someone (`outbound`). */
export type CallDirection = "inbound" | "outbound";

/** The phone call an invocation is made during. The numbers are personal
 * data: keep them out of log records. */
export interface PhoneCall {
  /** Warden's id of the call session. */
  readonly sessionId: string;
  readonly direction: CallDirection;
  /** The number of the person on the phone (who called, or who was
   * called), E.164, when known: e.g. to look them up in a CRM. */
  readonly callerNumber: string | null;
  /** The agent's own number, E.164, when known. */
  readonly agentNumber: string | null;
  /** The LiveKit room, when there is one. */
  readonly room: string | null;
}

/** Who is calling, with which configuration, during which phone call, and
 * the way to the call's secrets and to a line spoken with the result. */
export interface Context<C = Record<string, any>> {
  /** A unique id for this call; a retried LLM call keeps it. */
  readonly callId: string;
  readonly organizationId: string;
  readonly agentId: string | null;
  /** The agent's configuration for the tool, parsed with the tool's `config`. */
  readonly config: C;
  /** The phone call this invocation is made during; `null` outside one (a
   * test, a call through the management API). */
  readonly call: PhoneCall | null;
  /** Milliseconds the host lets this call run from when it started (the
   * voice turn's budget or the tool's time limit, whichever is shorter):
   * give up on a slow upstream in time to say so. */
  readonly timeLeftMs: number;
  /** The declared secret `name`; throws `NotConfigured` when it is not set. */
  secret(name: string): string;
  /** The declared secret `name`, or `null` when it is not set. */
  trySecret(name: string): string | null;
  /**
   * Says `line` to the person on the phone with this call's result: a short
   * sentence such as "You're booked for Tuesday at ten." Clients that speak
   * results use it (MCP gets it as the text content), and the result stays
   * the JSON `run` returns. The last line given wins; at most 1 KiB reaches
   * the caller. Dropped when `run` throws.
   */
  speak(line: string): void;
}

/** A function the LLM may call. */
export interface FunctionDef<P extends Schema, C> {
  /** What the function does, written for an LLM deciding whether and how to call it. */
  description: string;
  /** The arguments' schema, an object schema [default: no arguments]. */
  parameters?: P;
  /** True when the function changes nothing upstream [default: false]. */
  readOnly?: boolean;
  /** True when repeating a call with the same arguments has no further
   * effect [default: false]. */
  idempotent?: boolean;
  /** True when the function may delete or overwrite rather than only add
   * [default: false]. */
  destructive?: boolean;
  /** False when the function reaches no outside service or person, working
   * within a closed system [default: true]. */
  openWorld?: boolean;
  /** Runs the function: returns JSON data, or throws a `ToolError`. */
  run(args: Infer<P>, ctx: Context<C>): unknown;
}

/** What `defineTool` takes. */
export interface ToolDef<CS extends Schema, P extends Record<string, Schema>> {
  /** `^[a-z][a-z0-9_]{0,63}$`, e.g. `order_status`. */
  name: string;
  /** Default `0.1.0`. */
  version?: string;
  /** What the tool is for, for operators and LLMs. */
  description: string;
  /** The per-agent, non-secret configuration's schema (an object schema). */
  config?: CS;
  secrets?: SecretSpec[];
  /** Where the tool may send requests: `scheme://host[:port]`, optionally `*.`-prefixed. */
  allowedHosts?: string[];
  credentials?: CredentialSpec[];
  oauth?: OAuthSpec;
  /** The functions, by name. */
  functions: { [K in keyof P]: FunctionDef<P[K], Infer<CS>> };
  /** The tool's self-check [default: every required secret is set]. */
  test?(ctx: Context<Infer<CS>>): unknown;
}

/** The contract's `tool-metadata`, with JSON documents still as data. */
export interface Metadata {
  name: string;
  version: string;
  description: string;
  configSchema: JsonSchema;
  secrets: Required<SecretSpec>[];
  allowedHosts: string[];
  credentials: Required<CredentialSpec>[];
  functions: FunctionMetadata[];
  oauth: Required<OAuthSpec> | null;
}

/** The contract's `function-spec`, with its schema still as data. */
export interface FunctionMetadata {
  name: string;
  description: string;
  parameters: JsonSchema;
  readOnly: boolean;
  idempotent: boolean;
  destructive: boolean;
  openWorld: boolean;
}

/** The contract's `call-context`, as the host hands it over. */
export interface CallContext {
  callId: string;
  organizationId: string;
  agentId?: string | null;
  /** JSON text. */
  config: string;
  call?: {
    sessionId: string;
    direction: CallDirection;
    callerNumber?: string | null;
    agentNumber?: string | null;
    room?: string | null;
  } | null;
  /** A `u64`: a bigint from the component's bindings. */
  remainingMs: number | bigint;
}

/** A function's answer: its result as JSON text, and the line it asked to
 * be spoken (the contract's `tool-result`). */
export interface Invoked {
  json: string;
  spoken: string | null;
}

/** What `Tool.warmUp` parses: the common argument types, and a value of it. */
const WARM_UP_SCHEMA = z.object({
  s: z.string().min(1).max(100).regex(/^[a-z]+$/),
  n: z.number().int().min(0).max(10),
  b: z.boolean(),
  e: z.enum(["a", "b"]).default("a"),
  o: z.string().optional(),
  a: z.array(z.string()),
  r: z.object({ x: z.number().nullable() }),
});
const WARM_UP_VALUE = { s: "abc", n: 1, b: true, a: ["x"], r: { x: null } };

const NO_ARGUMENTS: JsonSchema = { type: "object", properties: {}, additionalProperties: false };

/** A tool, as `defineTool` returns it. */
export class Tool<C = any> {
  /** The tool's metadata, worked out (and checked) once. */
  readonly metadata: Metadata;
  readonly #def: ToolDef<any, any>;

  constructor(def: ToolDef<any, any>) {
    this.#def = def;
    this.metadata = describe(def);
  }

  /** Runs `fn` with `args` (JSON text): its result as JSON text with the
   * line it asked to be spoken, or throws a `ToolError` (and the line is
   * dropped). */
  async invoke(call: CallContext, fn: string, args: string): Promise<Invoked> {
    const def: FunctionDef<Schema, C> | undefined = Object.hasOwn(this.#def.functions, fn)
      ? this.#def.functions[fn]
      : undefined;
    if (def === undefined) throw new Internal(`the tool has no function \`${fn}\``);
    const said: Said = { line: null };
    const ctx = this.#context(call, said);
    const parsed = parse(def.parameters, JSON.parse(args));
    if (!parsed.ok) throw new InvalidArguments(`the arguments are invalid: ${parsed.error}`);
    const json = await guarded(() => def.run(parsed.value, ctx));
    return { json, spoken: said.line };
  }

  /** Runs the tool's self-check. */
  async test(call: CallContext): Promise<string> {
    const ctx = this.#context(call);
    const own = this.#def.test;
    if (own !== undefined) return guarded(() => own(ctx));
    return guarded(() => {
      // The configuration parsed (it would not be here otherwise); every
      // required secret is set (a credential counts as set).
      for (const secret of this.metadata.secrets) {
        const value = secret.required ? host().secret(secret.name) : "";
        if (typeof value !== "string" && value.error === "not-set") {
          throw new NotConfigured(`the secret \`${secret.name}\` has not been set`);
        }
      }
      return { ok: true };
    });
  }

  /**
   * Runs the SDK's side of a call (the configuration's and every function's
   * schema on an empty object, results discarded) without running any of
   * the tool's own code. A component is pre-initialized after this, so the
   * engine has compiled these paths once, at build time, instead of in
   * every fresh instance.
   */
  warmUp(): void {
    // zod's parsers for the common types, on a success and a failure.
    parse(WARM_UP_SCHEMA, WARM_UP_VALUE);
    parse(WARM_UP_SCHEMA, {});
    for (const name of Object.keys(this.#def.functions)) parse(this.#def.functions[name].parameters, {});
    try {
      this.#context({ callId: "", organizationId: "", agentId: null, config: "{}", remainingMs: 0 });
    } catch {
      // A configuration with required fields: the failure path is warm now.
    }
    JSON.stringify(JSON.parse(JSON.stringify(this.metadata)));
  }

  #context(call: CallContext, said: Said = { line: null }): Context<C> {
    const parsed = parse(this.#def.config, JSON.parse(call.config));
    if (!parsed.ok) throw new NotConfigured(`the tool's configuration is invalid: ${parsed.error}`);
    const phone = call.call;
    return Object.freeze({
      callId: call.callId,
      organizationId: call.organizationId,
      agentId: call.agentId ?? null,
      config: parsed.value as C,
      call: phone
        ? Object.freeze({
            sessionId: phone.sessionId,
            direction: phone.direction,
            callerNumber: phone.callerNumber ?? null,
            agentNumber: phone.agentNumber ?? null,
            room: phone.room ?? null,
          })
        : null,
      timeLeftMs: Number(call.remainingMs),
      secret(name: string): string {
        const value = readSecret(name);
        if (value === null) throw new NotConfigured(`the secret \`${name}\` has not been set`);
        return value;
      },
      trySecret(name: string): string | null {
        return readSecret(name);
      },
      speak(line: string): void {
        if (typeof line !== "string") throw new TypeError(`ctx.speak takes a string, got ${typeof line}`);
        said.line = line;
      },
    });
  }
}

/** The line a call's `ctx.speak` set. */
interface Said {
  line: string | null;
}

/**
 * Defines a tool. Export it as the module's default export; `warden-tool
 * build` makes the component from it:
 *
 * ```ts
 * export default defineTool({
 *   name: "weather",
 *   description: "Weather forecasts for callers who ask about the weather.",
 *   functions: {
 *     forecast: {
 *       description: "Forecast for a city.",
 *       parameters: z.object({ city: z.string().describe("City name") }),
 *       readOnly: true,
 *       run: ({ city }) => ({ city, summary: "sunny" }),
 *     },
 *   },
 * });
 * ```
 *
 * Throws, naming what is wrong, on a tool the host would refuse.
 */
export function defineTool<
  CS extends Schema = JsonSchema,
  P extends Record<string, Schema> = Record<string, Schema>,
>(def: ToolDef<CS, P>): Tool<Infer<CS>> {
  return new Tool(def);
}

function readSecret(name: string): string | null {
  const value = host().secret(name);
  if (typeof value === "string") return value;
  switch (value.error) {
    case "not-set":
      return null;
    case "not-declared":
      throw new Internal(`the tool asked for the secret \`${name}\`, which it does not declare`);
    case "host-only":
      throw new Internal(
        `the secret \`${name}\` is a credential: the host adds it to the tool's requests to its credential hosts, and the tool cannot read it`,
      );
  }
}

function describe(def: ToolDef<any, any>): Metadata {
  if (typeof def.name !== "string" || !NAME.test(def.name)) {
    throw new TypeError(`the tool's name must match ${NAME.source}, got ${JSON.stringify(def.name)}`);
  }
  if (!def.description?.trim()) throw new TypeError(`${def.name} needs a description`);
  const names = Object.keys(def.functions ?? {});
  if (names.length === 0) throw new TypeError(`${def.name} has no functions`);
  const functions = names.map((name) => {
    const f: FunctionDef<Schema, unknown> = def.functions[name];
    if (!NAME.test(name)) throw new TypeError(`function name ${JSON.stringify(name)} must match ${NAME.source}`);
    if (!f.description?.trim()) throw new TypeError(`${def.name}.${name} needs a description`);
    if (typeof f.run !== "function") throw new TypeError(`${def.name}.${name} needs a run function`);
    return {
      name,
      description: f.description.trim(),
      parameters: objectSchema(f.parameters, `${def.name}.${name}'s parameters`),
      readOnly: f.readOnly ?? false,
      idempotent: f.idempotent ?? false,
      destructive: f.destructive ?? false,
      openWorld: f.openWorld ?? true,
    };
  });
  return {
    name: def.name,
    version: def.version ?? "0.1.0",
    description: def.description.trim(),
    configSchema: objectSchema(def.config, `${def.name}'s config`),
    secrets: (def.secrets ?? []).map((s) => ({
      name: s.name,
      description: s.description,
      required: s.required ?? true,
    })),
    allowedHosts: [...(def.allowedHosts ?? [])],
    credentials: (def.credentials ?? []).map((c) => ({
      secret: c.secret,
      hosts: [...c.hosts],
      header: c.header ?? "authorization",
      format: c.format ?? "Bearer {}",
    })),
    functions,
    oauth: def.oauth
      ? { authorizeUrl: def.oauth.authorizeUrl, tokenUrl: def.oauth.tokenUrl, scopes: [...(def.oauth.scopes ?? [])] }
      : null,
  };
}

/** The JSON Schema of an object schema; `what` names it in errors. */
function objectSchema(schema: Schema | undefined, what: string): JsonSchema {
  if (schema === undefined) return NO_ARGUMENTS;
  let json: JsonSchema;
  if (isZod(schema)) {
    try {
      // The input side: fields with a default may be left out.
      json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" }) as JsonSchema;
    } catch (e) {
      throw new TypeError(`${what} cannot be written as JSON Schema: ${(e as Error).message}`);
    }
    delete json.$schema;
  } else {
    json = schema;
  }
  if (json.type !== "object") throw new TypeError(`${what} must be an object schema`);
  return json;
}

/** A zod schema, from this SDK's zod or the tool's own copy of zod 4. */
function isZod(schema: Schema | undefined): schema is z.ZodType {
  return typeof schema === "object" && schema !== null && "_zod" in schema;
}

type Parsed = { ok: true; value: any } | { ok: false; error: string };

function parse(schema: Schema | undefined, value: unknown): Parsed {
  if (!isZod(schema)) return { ok: true, value };
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: z.prettifyError(result.error).replaceAll("\n", "; ") };
}

/** Runs a tool's code: its result as JSON text, a `ToolError` as is,
 * anything else logged for the operator and reported as `internal`. */
async function guarded(run: () => unknown): Promise<string> {
  try {
    const value = await run();
    const text = JSON.stringify(value === undefined ? null : value);
    if (text === undefined) throw new TypeError("the result is not JSON data");
    return text;
  } catch (e) {
    if (e instanceof ToolError) throw e;
    const name = e instanceof Error ? e.name : typeof e;
    const message = e instanceof Error ? e.message : String(e);
    host().log("error", `unhandled ${name}: ${message}`);
    throw new Internal("the tool failed unexpectedly");
  }
}
