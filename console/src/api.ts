// The console's only door to Warden: `/console/api/session` for the cookie
// session and `/console/api/v1/...`, the `/v1` API behind that cookie. The API
// key is sent once, to sign in, and never kept; the CSRF token lives in
// memory only and goes with every request that changes something.

export const API_ROOT = "/console/api";

export interface Session {
  organization_id: string;
  organization_name: string;
  csrf_token: string;
  expires_at: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  kind: string;
  invocation_id?: string | null;
  replay_of?: string | null;
}

export interface Agent {
  id: string;
  name: string;
  description: string;
  system_prompt: string;
  is_active: boolean;
  created_at: string;
  updated_at: string;
  tools?: AgentTool[] | null;
}

export interface AgentPage {
  items: Agent[];
  next_cursor?: string | null;
}

export interface NewAgent {
  name: string;
  description?: string;
  system_prompt?: string;
  is_active?: boolean;
}

export interface AgentPatch {
  name?: string | null;
  description?: string | null;
  system_prompt?: string | null;
  is_active?: boolean | null;
}

export interface AgentTool {
  tool_id: string;
  tool_name: string;
  config: unknown;
  is_enabled: boolean;
  function_enables: Record<string, boolean>;
  created_at: string;
  updated_at: string;
}

export interface AgentToolSettings {
  config?: unknown;
  is_enabled?: boolean;
  function_enables?: Record<string, boolean>;
}

export interface ToolFunction {
  name: string;
  description: string;
  parameters: unknown;
  read_only: boolean;
}

export interface Secret {
  name: string;
  description: string;
  required: boolean;
  is_set: boolean;
  updated_at?: string | null;
}

export interface Credential {
  secret: string;
  header: string;
  hosts: string[];
}

export interface OAuth {
  authorize_url: string;
  token_url: string;
  scopes: string[];
  connected: boolean;
  connected_at?: string | null;
}

/** What a tool declares: the fields a catalogue entry and an inspected
 * upload share. */
export interface ToolFacts {
  name: string;
  description: string;
  version: string;
  sha256: string;
  config_schema: unknown;
  functions: ToolFunction[];
  secrets: Secret[];
  allowed_hosts: string[];
  credentials: Credential[];
  oauth?: OAuth | null;
}

export interface Tool extends ToolFacts {
  id: string;
  platform: boolean;
  created_at: string;
  updated_at: string;
}

/** What `POST /v1/tools/inspect` answers: the tool as installing these
 * bytes would make it, with nothing stored. `secrets` says which of them
 * this organization has already set for its tool of that name. */
export interface ToolPreview extends ToolFacts {
  /** The organization's current version of that name, which installing
   * would replace (`null`: a new tool). */
  replaces_version: string | null;
  /** These exact bytes are already the organization's current version:
   * installing would change nothing. */
  installed: boolean;
}

export interface Installed {
  tool: Tool;
  created: boolean;
}

export interface TestResult {
  ok: boolean;
  result: unknown;
}

export interface InvokeResult {
  result: unknown;
  spoken?: string | null;
  invocation_id: string;
  replay_of?: string | null;
}

export interface InvocationRecord {
  id: string;
  agent_id?: string | null;
  tool_id: string;
  tool_version_id: string;
  function: string;
  call_id: string;
  call_session_id?: string | null;
  started_at: string;
  duration_us: number;
  fuel_consumed: number;
  peak_memory_bytes: number;
  outcome: string;
  error_kind?: string | null;
  replay_of?: string | null;
  created_at: string;
}

export interface InvocationPage {
  items: InvocationRecord[];
  next_cursor?: string | null;
}

export interface ErrorCount {
  kind?: string | null;
  count: number;
}

export interface ToolHealth {
  tool_id: string;
  window_minutes: number;
  since: string;
  calls: number;
  errors: number;
  error_rate: number;
  errors_by_kind: ErrorCount[];
  mean_duration_us: number;
  max_duration_us?: number | null;
  p50_duration_us?: number | null;
  p95_duration_us?: number | null;
  p99_duration_us?: number | null;
}

export interface OAuthStart {
  authorization_url: string;
  expires_at: string;
}

export interface OAuthDisconnect {
  revoked_at_provider: boolean;
}

/** A failed request: the server's problem document, or one made up here. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.status = problem.status;
    this.problem = problem;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

/** Called once by the app: what a 401 on a data call does (back to sign-in). */
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

function setSession(s: Session | null): void {
  csrfToken = s ? s.csrf_token : null;
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && typeof (v as Problem).status === "number";
}

async function problemOf(res: Response): Promise<Problem> {
  let body: unknown = null;
  const text = await res.text().catch(() => "");
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (isProblem(body)) {
    const p = body;
    return {
      type: String(p.type ?? ""),
      title: String(p.title ?? res.statusText),
      status: p.status,
      detail: typeof p.detail === "string" ? p.detail : "",
      kind: typeof p.kind === "string" ? p.kind : "",
      invocation_id: typeof p.invocation_id === "string" ? p.invocation_id : null,
      replay_of: typeof p.replay_of === "string" ? p.replay_of : null,
    };
  }
  return {
    type: "about:blank",
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
    detail: text.slice(0, 2000),
    kind: "http_" + res.status,
  };
}

function networkProblem(err: unknown): ApiError {
  return new ApiError({
    type: "about:blank",
    title: "Network error",
    status: 0,
    detail: err instanceof Error ? err.message : String(err),
    kind: "network",
  });
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface RequestOptions {
  query?: Query;
  json?: unknown;
  bytes?: ArrayBuffer;
  /** Session calls handle their own 401 (a wrong key is not an expired session). */
  session?: boolean;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  let url = (opts.session ? API_ROOT : API_ROOT + "/v1") + path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += "?" + s;
  }
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.bytes !== undefined) {
    headers["Content-Type"] = "application/wasm";
    body = opts.bytes;
  }
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    throw networkProblem(err);
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    if (res.status === 401 && !opts.session) {
      setSession(null);
      onUnauthorized();
    }
    throw new ApiError(problem);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const enc = encodeURIComponent;

/** The largest page the API serves (`MAX_PAGE_SIZE` in `warden-api`'s `/v1`). */
const MAX_PAGE_SIZE = 100;
/** Most pages `api.allAgents` reads: 10,000 agents. */
const ALL_AGENTS_PAGES = 100;

export const api = {
  // The session.
  async signIn(apiKey: string): Promise<Session> {
    const s = await request<Session>("POST", "/session", { json: { api_key: apiKey }, session: true });
    setSession(s);
    return s;
  },
  async restore(): Promise<Session | null> {
    try {
      const s = await request<Session>("GET", "/session", { session: true });
      setSession(s);
      return s;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    }
  },
  async signOut(): Promise<void> {
    try {
      await request<void>("DELETE", "/session", { session: true });
    } finally {
      setSession(null);
    }
  },

  // Agents.
  listAgents: (q: { cursor?: string | null; limit?: number; name?: string; is_active?: boolean }) =>
    request<AgentPage>("GET", "/agents", { query: q }),
  /** Every agent, page after page (for a filter that must offer each one), up to
   * `ALL_AGENTS_PAGES` pages of the server's largest page. */
  allAgents: async (): Promise<Agent[]> => {
    const agents: Agent[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < ALL_AGENTS_PAGES; i++) {
      const page: AgentPage = await api.listAgents({ cursor, limit: MAX_PAGE_SIZE });
      agents.push(...page.items);
      cursor = page.next_cursor ?? null;
      if (!cursor) break;
    }
    return agents;
  },
  createAgent: (a: NewAgent) => request<Agent>("POST", "/agents", { json: a }),
  getAgent: (id: string) => request<Agent>("GET", `/agents/${enc(id)}`, { query: { include_tools: true } }),
  updateAgent: (id: string, p: AgentPatch) => request<Agent>("PATCH", `/agents/${enc(id)}`, { json: p }),
  deleteAgent: (id: string) => request<void>("DELETE", `/agents/${enc(id)}`),
  agentTools: (id: string) => request<AgentTool[]>("GET", `/agents/${enc(id)}/tools`),
  setAgentTool: (id: string, toolId: string, s: AgentToolSettings) =>
    request<AgentTool>("PUT", `/agents/${enc(id)}/tools/${enc(toolId)}`, { json: s }),
  detachTool: (id: string, toolId: string) => request<void>("DELETE", `/agents/${enc(id)}/tools/${enc(toolId)}`),
  testTool: (id: string, toolId: string) => request<TestResult>("POST", `/agents/${enc(id)}/tools/${enc(toolId)}/test`),
  invoke: (id: string, name: string, args: unknown) =>
    request<InvokeResult>("POST", `/agents/${enc(id)}/invoke`, { json: { name, arguments: args ?? {} } }),

  // Tools.
  listTools: () => request<Tool[]>("GET", "/tools"),
  getTool: (id: string) => request<Tool>("GET", `/tools/${enc(id)}`),
  deleteTool: (id: string) => request<void>("DELETE", `/tools/${enc(id)}`),
  inspectTool: (bytes: ArrayBuffer) => request<ToolPreview>("POST", "/tools/inspect", { bytes }),
  installTool: (bytes: ArrayBuffer) => request<Installed>("POST", "/tools", { bytes }),
  listSecrets: (id: string) => request<Secret[]>("GET", `/tools/${enc(id)}/secrets`),
  setSecret: (id: string, name: string, value: string) =>
    request<Secret>("PUT", `/tools/${enc(id)}/secrets/${enc(name)}`, { json: { value } }),
  deleteSecret: (id: string, name: string) => request<void>("DELETE", `/tools/${enc(id)}/secrets/${enc(name)}`),
  toolHealth: (id: string, windowMinutes: number) =>
    request<ToolHealth>("GET", `/tools/${enc(id)}/health`, { query: { window_minutes: windowMinutes } }),
  oauthStart: (id: string) => request<OAuthStart>("POST", `/tools/${enc(id)}/oauth/start`),
  oauthDisconnect: (id: string) => request<OAuthDisconnect>("DELETE", `/tools/${enc(id)}/oauth`),

  // The audit trail.
  listInvocations: (q: { agent_id?: string; tool_id?: string; limit?: number; cursor?: string | null }) =>
    request<InvocationPage>("GET", "/invocations", { query: q }),
};

/** Any thrown value as a problem document, for display. */
export function toProblem(err: unknown): Problem {
  if (err instanceof ApiError) return err.problem;
  return {
    type: "about:blank",
    title: "Error",
    status: 0,
    detail: err instanceof Error ? err.message : String(err),
    kind: "client",
  };
}
