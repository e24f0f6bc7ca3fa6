// Per-tool panels shared by the agent page and the tool page: write-only
// secrets and the OAuth2 connection.
import { useState } from "react";
import { api } from "../api";
import type { Secret, Tool } from "../api";
import { Badge, ConfirmButton, Loading, ProblemView, Time, useAction, useLoad } from "./common";

/** Write-only secrets: the value is typed, sent, and cleared; never shown. */
export function SecretsPanel({ tool, onChange }: { tool: Tool; onChange?: () => void }) {
  const secrets = useLoad(() => api.listSecrets(tool.id), [tool.id]);
  if (tool.secrets.length === 0 && (!secrets.data || secrets.data.length === 0)) {
    return (
      <section className="panel-section" data-testid={`secrets-${tool.name}`}>
        <h4>Secrets</h4>
        <p className="muted">This tool declares no secrets.</p>
      </section>
    );
  }
  const list = secrets.data ?? tool.secrets;
  return (
    <section className="panel-section" data-testid={`secrets-${tool.name}`}>
      <h4>Secrets</h4>
      <p className="muted small">Write-only: values are sealed by Warden and never shown again.</p>
      {secrets.loading && !secrets.data ? <Loading /> : null}
      <ProblemView problem={secrets.problem} />
      <table className="table secrets">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">New value</th>
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <SecretRow
              key={s.name}
              tool={tool}
              secret={s}
              onSaved={() => {
                secrets.reload();
                onChange?.();
              }}
            />
          ))}
        </tbody>
      </table>
    </section>
  );
}

function SecretRow({ tool, secret, onSaved }: { tool: Tool; secret: Secret; onSaved: () => void }) {
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const action = useAction();
  const inputId = `secret-${tool.name}-${secret.name}`;
  const save = async () => {
    if (!value) return;
    const v = value;
    const r = await action.run(() => api.setSecret(tool.id, secret.name, v));
    // Cleared whatever happened: the value is not kept in the page.
    setValue("");
    if (r) {
      setSaved("Saved");
      onSaved();
    }
  };
  return (
    <tr data-testid={`secret-${secret.name}`} data-secret-name={secret.name}>
      <td>
        <label htmlFor={inputId} className="secret-name">
          <code>{secret.name}</code>
        </label>
        {secret.required ? <Badge tone="info">required</Badge> : <Badge tone="muted">optional</Badge>}
        {secret.description ? <div className="muted small">{secret.description}</div> : null}
      </td>
      <td data-testid="secret-status" data-is-set={secret.is_set ? "true" : "false"}>
        {secret.is_set ? (
          <>
            <Badge tone="ok">set</Badge>{" "}
            <span className="muted small">
              <Time iso={secret.updated_at} />
            </span>
          </>
        ) : (
          <Badge tone={secret.required ? "warn" : "muted"}>not set</Badge>
        )}
      </td>
      <td>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <input
            id={inputId}
            data-testid="secret-input"
            type="password"
            autoComplete="new-password"
            spellCheck={false}
            value={value}
            placeholder={secret.is_set ? "replace…" : "value"}
            onChange={(e) => {
              setValue(e.target.value);
              setSaved(null);
            }}
          />
          <button type="submit" className="btn btn-primary" data-testid="secret-save" disabled={!value || action.busy}>
            {secret.is_set ? "Replace" : "Set"}
          </button>
          {secret.is_set ? (
            <ConfirmButton
              label="Delete"
              question={`Delete ${secret.name}?`}
              testId="secret-delete"
              onConfirm={async () => {
                const r = await action.run(() => api.deleteSecret(tool.id, secret.name).then(() => true));
                if (r) {
                  setSaved("Deleted");
                  onSaved();
                }
              }}
            />
          ) : null}
          {saved ? (
            <span className="muted small" role="status" data-testid="secret-saved">
              {saved}
            </span>
          ) : null}
        </form>
        <ProblemView problem={action.problem} testId="secret-problem" />
      </td>
    </tr>
  );
}

/** Only http(s) URLs are followed: a tool's metadata is tenant input. */
export function safeExternalUrl(u: string): string | null {
  try {
    const url = new URL(u);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

export function OAuthPanel({ tool, onChange }: { tool: Tool; onChange?: () => void }) {
  const action = useAction();
  const [note, setNote] = useState<string | null>(null);
  if (!tool.oauth) return null;
  const o = tool.oauth;
  const connect = async () => {
    setNote(null);
    const r = await action.run(() => api.oauthStart(tool.id));
    if (!r) return;
    const url = safeExternalUrl(r.authorization_url);
    if (!url) {
      setNote("The server returned an authorization URL that is not http(s); not followed.");
      return;
    }
    setNote("Opening the provider's consent page…");
    window.location.assign(url);
  };
  return (
    <section className="panel-section" data-testid={`oauth-${tool.name}`}>
      <h4>Account (OAuth2)</h4>
      <p>
        <span data-testid="oauth-status" data-connected={o.connected ? "true" : "false"}>
          {o.connected ? <Badge tone="ok">connected</Badge> : <Badge tone="warn">not connected</Badge>}
        </span>{" "}
        {o.connected && o.connected_at ? (
          <span className="muted small">
            since <Time iso={o.connected_at} />
          </span>
        ) : null}
      </p>
      {o.scopes.length > 0 ? (
        <p className="muted small">
          Scopes:{" "}
          {o.scopes.map((s) => (
            <code key={s} className="scope">
              {s}
            </code>
          ))}
        </p>
      ) : null}
      <div className="actions">
        <button type="button" className="btn btn-primary" data-testid="oauth-connect" disabled={action.busy} onClick={() => void connect()}>
          {o.connected ? "Reconnect" : "Connect"}
        </button>
        {o.connected ? (
          <ConfirmButton
            label="Disconnect"
            question="Disconnect the account?"
            testId="oauth-disconnect"
            onConfirm={async () => {
              const r = await action.run(() => api.oauthDisconnect(tool.id));
              if (r) {
                setNote(r.revoked_at_provider ? "Disconnected; the grant was revoked at the provider." : "Disconnected; the tokens are dropped (the provider did not revoke the grant).");
                onChange?.();
              }
            }}
          />
        ) : null}
      </div>
      {note ? (
        <p className="muted small" role="status" data-testid="oauth-note">
          {note}
        </p>
      ) : null}
      <ProblemView problem={action.problem} testId="oauth-problem" />
    </section>
  );
}
