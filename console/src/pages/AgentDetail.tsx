import { useEffect, useMemo, useState } from "react";
import { api } from "../api";
import type { Agent, AgentTool, InvokeResult, TestResult, Tool } from "../api";
import {
  Badge,
  ConfirmButton,
  JsonView,
  Loading,
  ProblemView,
  Time,
  hasFields,
  useAction,
  useLoad,
} from "../components/common";
import { SchemaForm } from "../components/SchemaForm";
import { OAuthPanel, SecretsPanel } from "../components/ToolPanels";
import { href, navigate } from "../router";

export function AgentDetailPage({ id }: { id: string }) {
  const agent = useLoad(() => api.getAgent(id), [id]);
  const attached = useLoad(() => api.agentTools(id), [id]);
  const tools = useLoad(() => api.listTools(), []);
  const byId = useMemo(() => new Map((tools.data ?? []).map((t) => [t.id, t])), [tools.data]);

  if (agent.loading && !agent.data) return <Loading />;
  if (!agent.data) return <ProblemView problem={agent.problem} />;
  const a = agent.data;
  const list = attached.data ?? a.tools ?? [];
  const refresh = () => {
    attached.reload();
    tools.reload();
  };

  return (
    <div className="page" data-testid="agent-page" data-agent-id={a.id}>
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <a href={href({ page: "agents" })}>Agents</a> <span aria-hidden="true">/</span> <span>{a.name}</span>
      </nav>
      <header className="page-header">
        <h2 data-testid="agent-title">{a.name}</h2>
        {a.is_active ? <Badge tone="ok">active</Badge> : <Badge tone="muted">inactive</Badge>}
        <a className="header-link" href={href({ page: "invocations", agentId: a.id, toolId: "" })} data-testid="agent-invocations-link">
          Invocations →
        </a>
      </header>
      <AgentEditor agent={a} onSaved={(x) => agent.setData({ ...x, tools: a.tools })} />

      <section className="card" data-testid="agent-tools">
        <h3>Tools</h3>
        <ProblemView problem={attached.problem ?? tools.problem} />
        {list.length === 0 ? <p className="muted">No tools attached yet.</p> : null}
        {list.map((at) => (
          <AttachedTool key={at.tool_id} agentId={a.id} at={at} tool={byId.get(at.tool_id)} onChanged={refresh} />
        ))}
      </section>

      <AttachTool agentId={a.id} tools={tools.data ?? []} attached={list} onAttached={refresh} />

      <TryIt agentId={a.id} attached={list} tools={byId} />
    </div>
  );
}

function AgentEditor({ agent, onSaved }: { agent: Agent; onSaved: (a: Agent) => void }) {
  const [name, setName] = useState(agent.name);
  const [description, setDescription] = useState(agent.description);
  const [prompt, setPrompt] = useState(agent.system_prompt);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => {
    setName(agent.name);
    setDescription(agent.description);
    setPrompt(agent.system_prompt);
  }, [agent.id, agent.name, agent.description, agent.system_prompt]);
  const dirty = name !== agent.name || description !== agent.description || prompt !== agent.system_prompt;
  return (
    <section className="card">
      <h3>Settings</h3>
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          setSaved(false);
          const r = await action.run(() =>
            api.updateAgent(agent.id, { name: name.trim(), description, system_prompt: prompt }),
          );
          if (r) {
            setSaved(true);
            onSaved(r);
          }
        }}
      >
        <div className="form-group">
          <label className="control-label" htmlFor="agent-name">
            Name
          </label>
          <input id="agent-name" className="form-control" value={name} onChange={(e) => setName(e.target.value)} required />
        </div>
        <div className="form-group">
          <label className="control-label" htmlFor="agent-description">
            Description
          </label>
          <input id="agent-description" className="form-control" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <div className="form-group">
          <label className="control-label" htmlFor="agent-prompt">
            System prompt
          </label>
          <textarea id="agent-prompt" className="form-control" rows={6} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </div>
        <div className="actions">
          <button id="save-agent" type="submit" className="btn btn-primary" disabled={action.busy || !dirty || !name.trim()}>
            Save
          </button>
          <button
            id="agent-toggle-active"
            type="button"
            className="btn"
            disabled={action.busy}
            onClick={async () => {
              const r = await action.run(() => api.updateAgent(agent.id, { is_active: !agent.is_active }));
              if (r) onSaved(r);
            }}
          >
            {agent.is_active ? "Deactivate" : "Activate"}
          </button>
          <ConfirmButton
            id="delete-agent"
            label="Delete agent"
            question={`Delete ${agent.name} and its tool settings?`}
            onConfirm={async () => {
              const r = await action.run(() => api.deleteAgent(agent.id).then(() => true));
              if (r) navigate({ page: "agents" });
            }}
          />
          {saved && !dirty ? (
            <span className="muted small" role="status" data-testid="agent-saved">
              Saved
            </span>
          ) : null}
        </div>
        <ProblemView problem={action.problem} testId="agent-problem" />
      </form>
      <p className="muted small">
        Created <Time iso={agent.created_at} /> · updated <Time iso={agent.updated_at} /> · id <code>{agent.id}</code>
      </p>
    </section>
  );
}

/** The config form (rjsf, from the tool's `config_schema`), the tool switch
 * and the per-function switches; saves with PUT. */
function ToolSettingsForm({
  agentId,
  tool,
  initial,
  idPrefix,
  saveId,
  onSaved,
  onCancel,
}: {
  agentId: string;
  tool: Tool;
  initial: AgentTool | null;
  idPrefix: string;
  saveId: string;
  onSaved: (at: AgentTool) => void;
  onCancel?: () => void;
}) {
  const [config, setConfig] = useState<unknown>(initial ? initial.config ?? undefined : undefined);
  const [enabled, setEnabled] = useState(initial ? initial.is_enabled : true);
  const [fns, setFns] = useState<Record<string, boolean>>(() => {
    const m: Record<string, boolean> = {};
    for (const f of tool.functions) m[f.name] = initial ? initial.function_enables[f.name] !== false : true;
    return m;
  });
  const action = useAction();
  const save = async (data: unknown) => {
    const r = await action.run(() =>
      api.setAgentTool(agentId, tool.id, {
        config: data ?? {},
        is_enabled: enabled,
        function_enables: fns,
      }),
    );
    if (r) onSaved(r);
  };
  return (
    <div className="tool-settings" data-testid={`${idPrefix}-form`}>
      {hasFields(tool.config_schema) ? null : <p className="muted small">This tool takes no configuration.</p>}
      <SchemaForm
        schema={tool.config_schema}
        formData={config}
        idPrefix={idPrefix}
        testId={`${idPrefix}-config`}
        onChange={setConfig}
        onSubmit={(d) => void save(d)}
        disabled={action.busy}
      >
        <fieldset className="switches">
          <legend>Switches</legend>
          <label className="switch">
            <input type="checkbox" data-testid="tool-enabled" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
            <span>Tool enabled for this agent</span>
          </label>
          {tool.functions.map((f) => (
            <label className="switch" key={f.name}>
              <input
                type="checkbox"
                id={`${idPrefix}-fn-${f.name}`}
                data-testid={`function-switch-${f.name}`}
                checked={fns[f.name] !== false}
                onChange={(e) => setFns((m) => ({ ...m, [f.name]: e.target.checked }))}
              />
              <span>
                <code>{f.name}</code> {f.read_only ? <Badge tone="muted">read-only</Badge> : <Badge tone="info">writes</Badge>}
                <span className="muted small fn-desc">{f.description}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="actions">
          <button type="submit" id={saveId} data-testid="tool-settings-save" className="btn btn-primary" disabled={action.busy}>
            {initial ? "Save" : "Attach"}
          </button>
          {onCancel ? (
            <button type="button" className="btn" onClick={onCancel}>
              Cancel
            </button>
          ) : null}
        </div>
        <ProblemView problem={action.problem} testId="form-problem" />
      </SchemaForm>
    </div>
  );
}

function AttachTool({
  agentId,
  tools,
  attached,
  onAttached,
}: {
  agentId: string;
  tools: Tool[];
  attached: AgentTool[];
  onAttached: () => void;
}) {
  const [toolId, setToolId] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const taken = new Set(attached.map((a) => a.tool_id));
  const available = tools.filter((t) => !taken.has(t.id));
  const tool = available.find((t) => t.id === toolId) ?? null;
  return (
    <section className="card" data-testid="attach-tool">
      <h3>Attach a tool</h3>
      <div className="form-group">
        <label className="control-label" htmlFor="attach-tool-select">
          Tool
        </label>
        <select
          id="attach-tool-select"
          className="form-control"
          value={tool ? tool.id : ""}
          onChange={(e) => {
            setToolId(e.target.value);
            setDone(null);
          }}
        >
          <option value="">Choose a tool…</option>
          {available.map((t) => (
            <option key={t.id} value={t.id} data-tool-name={t.name}>
              {t.name} {t.version} {t.platform ? "" : "(private)"}
            </option>
          ))}
        </select>
      </div>
      {tool ? (
        <>
          <p className="muted small">{tool.description}</p>
          <ToolSettingsForm
            key={tool.id}
            agentId={agentId}
            tool={tool}
            initial={null}
            idPrefix="attach"
            saveId="attach-save"
            onSaved={(at) => {
              setToolId("");
              setDone(`Attached ${at.tool_name}.`);
              onAttached();
            }}
            onCancel={() => setToolId("")}
          />
        </>
      ) : null}
      {done ? (
        <p className="muted" role="status" data-testid="attach-done">
          {done}
        </p>
      ) : null}
    </section>
  );
}

function AttachedTool({
  agentId,
  at,
  tool,
  onChanged,
}: {
  agentId: string;
  at: AgentTool;
  tool: Tool | undefined;
  onChanged: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [test, setTest] = useState<TestResult | null>(null);
  const action = useAction();
  const testAction = useAction();
  const disabledFns = Object.entries(at.function_enables)
    .filter(([, on]) => !on)
    .map(([n]) => n);
  return (
    <article className="tool-card" data-testid={`agent-tool-${at.tool_name}`} data-tool-id={at.tool_id}>
      <header className="tool-card-header">
        <h4>
          <a href={href({ page: "tool", id: at.tool_id })}>{at.tool_name}</a>
          {tool ? <span className="muted small"> v{tool.version}</span> : null}
        </h4>
        {at.is_enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="muted">disabled</Badge>}
        {disabledFns.length > 0 ? <Badge tone="warn">{disabledFns.length} function(s) off</Badge> : null}
        <span className="spacer" />
        <button type="button" className="btn" data-testid="tool-edit" disabled={!tool} onClick={() => setEditing((x) => !x)}>
          {editing ? "Close editor" : "Edit"}
        </button>
        <button
          type="button"
          className="btn btn-info"
          data-testid="tool-test"
          disabled={testAction.busy}
          onClick={async () => {
            setTest(null);
            const r = await testAction.run(() => api.testTool(agentId, at.tool_id));
            if (r) setTest(r);
          }}
        >
          {testAction.busy ? "Testing…" : "Test"}
        </button>
        <ConfirmButton
          label="Detach"
          question={`Detach ${at.tool_name}?`}
          testId="tool-detach"
          onConfirm={async () => {
            const r = await action.run(() => api.detachTool(agentId, at.tool_id).then(() => true));
            if (r) onChanged();
          }}
        />
      </header>
      <ProblemView problem={action.problem} />
      {test ? (
        <div className="test-result" data-testid="test-result" data-ok={test.ok ? "true" : "false"}>
          {test.ok ? <Badge tone="ok">test passed</Badge> : <Badge tone="error">test failed</Badge>}
          <JsonView value={test.result} />
        </div>
      ) : null}
      <ProblemView problem={testAction.problem} testId="test-problem" />
      {editing && tool ? (
        <ToolSettingsForm
          key={at.updated_at}
          agentId={agentId}
          tool={tool}
          initial={at}
          idPrefix={`config-${at.tool_name}`}
          saveId={`save-${at.tool_name}`}
          onSaved={() => {
            setEditing(false);
            onChanged();
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <details className="config-view">
          <summary>Configuration</summary>
          <JsonView value={at.config} testId="tool-config" />
          <p className="muted small">
            Updated <Time iso={at.updated_at} />
          </p>
        </details>
      )}
      {!tool ? <p className="muted small">This tool is no longer in the catalogue.</p> : null}
      {tool ? (
        <div className="panels">
          <SecretsPanel tool={tool} onChange={onChanged} />
          <OAuthPanel tool={tool} onChange={onChanged} />
        </div>
      ) : null}
    </article>
  );
}

interface FnChoice {
  value: string;
  tool: Tool;
  fn: Tool["functions"][number];
}

/** Calls a function through the agent, as the voice agent would; audited. */
function TryIt({ agentId, attached, tools }: { agentId: string; attached: AgentTool[]; tools: Map<string, Tool> }) {
  const choices: FnChoice[] = [];
  for (const at of attached) {
    const t = tools.get(at.tool_id);
    if (!t || !at.is_enabled) continue;
    for (const f of t.functions) {
      if (at.function_enables[f.name] === false) continue;
      choices.push({ value: `${t.name}__${f.name}`, tool: t, fn: f });
    }
  }
  const [selected, setSelected] = useState("");
  const [args, setArgs] = useState<unknown>(undefined);
  const [result, setResult] = useState<InvokeResult | null>(null);
  const action = useAction();
  const choice = choices.find((c) => c.value === selected) ?? null;
  return (
    <section className="card" data-testid="try-it">
      <h3>Try it</h3>
      <p className="muted small">Runs a function with this agent's configuration and secrets. The call is recorded like any other.</p>
      {choices.length === 0 ? <p className="muted">Attach and enable a tool to try its functions.</p> : null}
      <div className="form-group">
        <label className="control-label" htmlFor="try-function">
          Function
        </label>
        <select
          id="try-function"
          className="form-control"
          value={choice ? choice.value : ""}
          onChange={(e) => {
            setSelected(e.target.value);
            setArgs(undefined);
            setResult(null);
            action.clear();
          }}
        >
          <option value="">Choose a function…</option>
          {choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.value}
            </option>
          ))}
        </select>
      </div>
      {choice ? (
        <>
          <p className="muted small">{choice.fn.description}</p>
          <SchemaForm
            key={choice.value}
            schema={choice.fn.parameters}
            formData={args}
            idPrefix="try"
            testId="try-form"
            onChange={setArgs}
            onSubmit={async (data) => {
              setResult(null);
              const r = await action.run(() => api.invoke(agentId, choice.value, data ?? {}));
              if (r) setResult(r);
            }}
            disabled={action.busy}
          >
            <div className="actions">
              <button type="submit" id="try-run" className="btn btn-primary" disabled={action.busy}>
                {action.busy ? "Running…" : "Run"}
              </button>
            </div>
          </SchemaForm>
        </>
      ) : null}
      {result ? (
        <div className="try-result" data-testid="try-result">
          <h4>Result</h4>
          <JsonView value={result.result} testId="try-result-json" />
          {result.spoken ? (
            <p>
              <span className="muted">Spoken:</span> <q data-testid="try-spoken">{result.spoken}</q>
            </p>
          ) : null}
          <p className="muted small">
            Invocation{" "}
            <a href={href({ page: "invocations", agentId, toolId: choice?.tool.id ?? "" })}>
              <code data-testid="try-invocation-id">{result.invocation_id}</code>
            </a>
            {result.replay_of ? (
              <>
                {" "}
                · replay of <code>{result.replay_of}</code>
              </>
            ) : null}
          </p>
        </div>
      ) : null}
      <ProblemView problem={action.problem} testId="try-problem" />
    </section>
  );
}
