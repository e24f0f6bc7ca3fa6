import { useState } from "react";
import { api } from "../api";
import type { Agent } from "../api";
import { Badge, ConfirmButton, Loading, ProblemView, Time, useAction, useLoad } from "../components/common";
import { href, navigate } from "../router";

const PAGE = 50;

export function AgentsPage() {
  // Cursors of the pages seen so far: the last one is the page shown.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useLoad(() => api.listAgents({ cursor, limit: PAGE }), [cursor]);
  const action = useAction();

  const toggle = async (a: Agent) => {
    const r = await action.run(() => api.updateAgent(a.id, { is_active: !a.is_active }));
    if (r) page.reload();
  };
  const remove = async (a: Agent) => {
    const r = await action.run(() => api.deleteAgent(a.id).then(() => true));
    if (r) page.reload();
  };

  return (
    <div className="page">
      <header className="page-header">
        <h2>Agents</h2>
      </header>
      <CreateAgent onCreated={(a) => navigate({ page: "agent", id: a.id })} />
      <section className="card">
        <h3>All agents</h3>
        <ProblemView problem={page.problem ?? action.problem} />
        {page.loading && !page.data ? <Loading /> : null}
        {page.data && page.data.items.length === 0 ? <p className="muted">No agents yet.</p> : null}
        {page.data && page.data.items.length > 0 ? (
          <table className="table" data-testid="agents-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Status</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((a) => (
                <tr key={a.id} data-testid="agent-row" data-agent-id={a.id} data-agent-name={a.name}>
                  <td>
                    <a href={href({ page: "agent", id: a.id })} data-testid="agent-link">
                      {a.name}
                    </a>
                  </td>
                  <td className="clip">{a.description || <span className="muted">—</span>}</td>
                  <td>{a.is_active ? <Badge tone="ok">active</Badge> : <Badge tone="muted">inactive</Badge>}</td>
                  <td>
                    <Time iso={a.updated_at} />
                  </td>
                  <td className="row-actions">
                    <button type="button" className="btn" data-testid="agent-toggle-active" disabled={action.busy} onClick={() => void toggle(a)}>
                      {a.is_active ? "Deactivate" : "Activate"}
                    </button>
                    <ConfirmButton label="Delete" question={`Delete ${a.name}?`} testId="agent-delete" onConfirm={() => remove(a)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <div className="pager">
          <button type="button" className="btn" data-testid="agents-first" disabled={cursors.length <= 1} onClick={() => setCursors([null])}>
            First page
          </button>
          <button
            type="button"
            className="btn"
            data-testid="agents-prev"
            disabled={cursors.length <= 1}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            Previous
          </button>
          <button
            type="button"
            className="btn"
            data-testid="agents-next"
            disabled={!page.data?.next_cursor}
            onClick={() => {
              const next = page.data?.next_cursor;
              if (next) setCursors((c) => [...c, next]);
            }}
          >
            Next
          </button>
        </div>
      </section>
    </div>
  );
}

function CreateAgent({ onCreated }: { onCreated: (a: Agent) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [prompt, setPrompt] = useState("");
  const [active, setActive] = useState(true);
  const action = useAction();
  return (
    <section className="card">
      <h3>New agent</h3>
      <form
        className="stack"
        data-testid="create-agent-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const a = await action.run(() =>
            api.createAgent({ name: name.trim(), description, system_prompt: prompt, is_active: active }),
          );
          if (a) onCreated(a);
        }}
      >
        <div className="form-group">
          <label className="control-label" htmlFor="new-agent-name">
            Name<span className="required">*</span>
          </label>
          <input id="new-agent-name" className="form-control" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </div>
        <div className="form-group">
          <label className="control-label" htmlFor="new-agent-description">
            Description
          </label>
          <input id="new-agent-description" className="form-control" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <div className="form-group">
          <label className="control-label" htmlFor="new-agent-prompt">
            System prompt
          </label>
          <textarea id="new-agent-prompt" className="form-control" rows={4} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </div>
        <div className="checkbox">
          <label>
            <input id="new-agent-active" type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} /> Active (takes calls)
          </label>
        </div>
        <div>
          <button id="create-agent" type="submit" className="btn btn-primary" disabled={action.busy || !name.trim()}>
            Create agent
          </button>
        </div>
        <ProblemView problem={action.problem} testId="create-agent-problem" />
      </form>
    </section>
  );
}
