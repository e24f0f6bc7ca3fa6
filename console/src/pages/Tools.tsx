import { useRef, useState } from "react";
import { api } from "../api";
import type { Installed, Tool, ToolFacts, ToolPreview } from "../api";
import { Badge, ClampedText, ConfirmButton, JsonView, Loading, ProblemView, Time, useAction, useLoad } from "../components/common";
import { OAuthPanel, SecretsPanel } from "../components/ToolPanels";
import { HealthCard } from "./Invocations";
import { href, navigate } from "../router";
import { reflow } from "../text";

export function ToolsPage() {
  const tools = useLoad(() => api.listTools(), []);
  return (
    <div className="page">
      <header className="page-header">
        <h2>Tools</h2>
      </header>
      <section className="card">
        <h3>Catalogue</h3>
        <ProblemView problem={tools.problem} />
        {tools.loading && !tools.data ? <Loading /> : null}
        {tools.data ? (
          <div className="table-scroll">
            <table className="table" data-testid="tools-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Version</th>
                  <th scope="col">Kind</th>
                  <th scope="col" className="col-desc">
                    Description
                  </th>
                  <th scope="col" className="col-fns">
                    Functions
                  </th>
                  <th scope="col">Secrets</th>
                  <th scope="col">Account</th>
                </tr>
              </thead>
              <tbody>
                {tools.data.map((t) => {
                  const missing = t.secrets.filter((s) => s.required && !s.is_set).length;
                  return (
                    <tr key={t.id} data-testid="tool-row" data-tool-name={t.name} data-tool-id={t.id}>
                      <td className="nowrap">
                        <a href={href({ page: "tool", id: t.id })} data-testid="tool-link">
                          {t.name}
                        </a>
                      </td>
                      <td className="nowrap">
                        <code>{t.version}</code>
                      </td>
                      <td>{t.platform ? <Badge tone="info">platform</Badge> : <Badge tone="muted">private</Badge>}</td>
                      <td className="col-desc">
                        {t.description ? <ClampedText text={t.description} testId="tool-description" /> : <span className="muted">—</span>}
                      </td>
                      <td className="col-fns">
                        <ul className="chips" aria-label={`${t.name}'s functions`}>
                          {t.functions.map((f) => (
                            <li key={f.name}>
                              <code>{f.name}</code>
                            </li>
                          ))}
                        </ul>
                      </td>
                      <td>
                        {t.secrets.length === 0 ? (
                          <span className="muted">—</span>
                        ) : missing > 0 ? (
                          <Badge tone="warn">{missing} required not set</Badge>
                        ) : (
                          <Badge tone="ok">
                            {t.secrets.filter((s) => s.is_set).length}/{t.secrets.length} set
                          </Badge>
                        )}
                      </td>
                      <td>
                        {t.oauth ? (
                          t.oauth.connected ? (
                            <Badge tone="ok">connected</Badge>
                          ) : (
                            <Badge tone="warn">not connected</Badge>
                          )
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <UploadTool onInstalled={() => tools.reload()} />
    </div>
  );
}

/** What a tool declares; with `preview` (an inspected upload) also what
 * installing it would do. */
function FactsView({ tool, preview }: { tool: ToolFacts; preview?: ToolPreview }) {
  return (
    <div className="tool-facts">
      <dl className="facts">
        <dt>Name</dt>
        <dd data-testid="fact-name">{tool.name}</dd>
        <dt>Version</dt>
        <dd data-testid="fact-version">
          <code>{tool.version}</code>
          {preview ? (
            preview.installed ? (
              <>
                {" "}
                <Badge tone="ok" testId="upload-installed">
                  already installed
                </Badge>{" "}
                <span className="muted small">these exact bytes are the current version; installing changes nothing</span>
              </>
            ) : preview.replaces_version ? (
              <span className="muted small" data-testid="upload-replaces">
                {" "}
                replaces {preview.replaces_version}
              </span>
            ) : (
              <span className="muted small" data-testid="upload-new">
                {" "}
                (new tool)
              </span>
            )
          ) : null}
        </dd>
        <dt>Description</dt>
        <dd className="prewrap">{tool.description ? reflow(tool.description) : <span className="muted">—</span>}</dd>
        <dt>SHA-256</dt>
        <dd>
          <code className="hash">{tool.sha256}</code>
        </dd>
        <dt>Allowed hosts</dt>
        <dd>{tool.allowed_hosts.length ? tool.allowed_hosts.map((h) => <code key={h} className="scope">{h}</code>) : <span className="muted">none</span>}</dd>
        <dt>Credentials</dt>
        <dd>
          {tool.credentials.length === 0 ? (
            <span className="muted">none</span>
          ) : (
            <ul className="plain">
              {tool.credentials.map((c, i) => (
                <li key={i}>
                  <code>{c.secret}</code> as <code>{c.header}</code> to {c.hosts.map((h) => <code key={h} className="scope">{h}</code>)}
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>OAuth2</dt>
        <dd>{tool.oauth ? <span>{tool.oauth.scopes.map((s) => <code key={s} className="scope">{s}</code>)}</span> : <span className="muted">no</span>}</dd>
      </dl>
      <h4>Functions</h4>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Function</th>
            <th scope="col">Description</th>
            <th scope="col">Parameters</th>
          </tr>
        </thead>
        <tbody>
          {tool.functions.map((f) => (
            <tr key={f.name} data-testid="function-row" data-function-name={f.name}>
              <td>
                <code>{f.name}</code> {f.read_only ? <Badge tone="muted">read-only</Badge> : <Badge tone="info">writes</Badge>}
              </td>
              <td className="prewrap">{reflow(f.description)}</td>
              <td>
                <details>
                  <summary>schema</summary>
                  <JsonView value={f.parameters} />
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h4>Secrets it declares</h4>
      {tool.secrets.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <ul className="plain">
          {tool.secrets.map((s) => (
            <li key={s.name}>
              <code>{s.name}</code> {s.required ? <Badge tone="info">required</Badge> : <Badge tone="muted">optional</Badge>}{" "}
              {preview && s.is_set ? (
                <>
                  <Badge tone="ok">already set</Badge>{" "}
                </>
              ) : null}
              <span className="muted small">{s.description}</span>
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Configuration schema</summary>
        <JsonView value={tool.config_schema} testId="config-schema" />
      </details>
    </div>
  );
}

export function ToolPage({ id }: { id: string }) {
  const tool = useLoad(() => api.getTool(id), [id]);
  const action = useAction();
  if (tool.loading && !tool.data) return <Loading />;
  if (!tool.data) return <ProblemView problem={tool.problem} />;
  const t: Tool = tool.data;
  return (
    <div className="page" data-testid="tool-page" data-tool-id={t.id}>
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <a href={href({ page: "tools" })}>Tools</a> <span aria-hidden="true">/</span> <span>{t.name}</span>
      </nav>
      <header className="page-header">
        <h2>{t.name}</h2>
        {t.platform ? <Badge tone="info">platform</Badge> : <Badge tone="muted">private</Badge>}
        <a className="header-link" href={href({ page: "invocations", agentId: "", toolId: t.id })}>
          Invocations →
        </a>
      </header>
      <section className="card">
        <FactsView tool={t} />
        <p className="muted small">
          Installed <Time iso={t.created_at} /> · updated <Time iso={t.updated_at} /> · id <code>{t.id}</code>
        </p>
        {!t.platform ? (
          <div className="actions">
            <ConfirmButton
              label="Delete tool"
              question={`Delete ${t.name} from the catalogue?`}
              testId="tool-delete"
              onConfirm={async () => {
                const r = await action.run(() => api.deleteTool(t.id).then(() => true));
                if (r) navigate({ page: "tools" });
              }}
            />
          </div>
        ) : null}
        <ProblemView problem={action.problem} />
      </section>
      <section className="card">
        <SecretsPanel tool={t} onChange={tool.reload} />
        <OAuthPanel tool={t} onChange={tool.reload} />
      </section>
      <section className="card">
        <h3>Health</h3>
        <HealthCard tool={t} windowMinutes={1440} durations={null} />
      </section>
    </div>
  );
}

/** A private tool: inspect the component first (what it declares, or why
 * Warden refuses it), then install the same bytes. */
function UploadTool({ onInstalled }: { onInstalled: () => void }) {
  const fileRef = useRef<HTMLInputElement>(null);
  const [bytes, setBytes] = useState<ArrayBuffer | null>(null);
  const [fileName, setFileName] = useState("");
  const [inspected, setInspected] = useState<ToolPreview | null>(null);
  const [installed, setInstalled] = useState<Installed | null>(null);
  const inspect = useAction();
  const install = useAction();
  const reset = () => {
    setInspected(null);
    setInstalled(null);
    inspect.clear();
    install.clear();
  };
  return (
    <section className="card" data-testid="upload-tool">
      <h3>Upload a private tool</h3>
      <p className="muted small">A WebAssembly component (<code>.wasm</code>, wasm32-wasip2) built against the <code>warden:tool</code> contract.</p>
      <div className="form-group">
        <label className="control-label" htmlFor="upload-file">
          Component file
        </label>
        <input
          id="upload-file"
          ref={fileRef}
          type="file"
          accept=".wasm,application/wasm"
          onChange={async (e) => {
            reset();
            // Forget the previous file's bytes at once, so Inspect cannot
            // send them while the new file is being read.
            setBytes(null);
            const f = e.target.files?.[0];
            setFileName(f ? f.name : "");
            if (!f) return;
            const read = await f.arrayBuffer();
            // Only the file still chosen: a slower read of an earlier one must not win.
            if (fileRef.current?.files?.[0] === f) setBytes(read);
          }}
        />
      </div>
      <div className="actions">
        <button
          id="upload-inspect"
          type="button"
          className={inspected ? "btn" : "btn btn-primary"}
          disabled={!bytes || inspect.busy}
          onClick={async () => {
            if (!bytes) return;
            reset();
            const r = await inspect.run(() => api.inspectTool(bytes));
            if (r) setInspected(r);
          }}
        >
          {inspect.busy ? "Inspecting…" : "Inspect"}
        </button>
        {inspected ? (
          <button
            id="upload-install"
            type="button"
            className="btn btn-primary"
            disabled={!bytes || install.busy || installed !== null || inspected.installed}
            onClick={async () => {
              if (!bytes) return;
              const r = await install.run(() => api.installTool(bytes));
              if (r) {
                setInstalled(r);
                onInstalled();
              }
            }}
          >
            {install.busy
              ? "Installing…"
              : installed
                ? "Installed"
                : inspected.installed
                  ? "Already installed"
                  : inspected.replaces_version
                    ? `Install (replaces ${inspected.replaces_version})`
                    : "Install"}
          </button>
        ) : null}
      </div>
      {fileName && bytes ? (
        <p className="muted small" data-testid="upload-file">
          {fileName}: {bytes.byteLength.toLocaleString()} bytes
        </p>
      ) : null}
      <ProblemView problem={inspect.problem} testId="upload-problem" />
      {inspected ? (
        <div className="preview" data-testid="upload-preview" data-installed={inspected.installed ? "true" : "false"}>
          <h4>Preview</h4>
          <FactsView tool={inspected} preview={inspected} />
        </div>
      ) : null}
      <ProblemView problem={install.problem} testId="install-problem" />
      {installed ? (
        <p className="notice" role="status" data-testid="upload-result" data-created={installed.created ? "true" : "false"}>
          {installed.created ? "Installed" : "Already installed (these exact bytes; nothing changed)"}:{" "}
          <a href={href({ page: "tool", id: installed.tool.id })}>
            {installed.tool.name} {installed.tool.version}
          </a>
        </p>
      ) : null}
    </section>
  );
}
