import { useState } from "react";
import { api, toProblem } from "../api";
import type { Problem, Session } from "../api";
import { ProblemView } from "../components/common";

/** Exchanges an API key for the server's HttpOnly session cookie. The key
 * lives in this component's state until the request is sent, then is gone. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice: string | null }) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async () => {
    const k = key.trim();
    if (!k) return;
    setBusy(true);
    setProblem(null);
    try {
      const s = await api.signIn(k);
      setKey("");
      onSignedIn(s);
    } catch (err) {
      setKey("");
      const p = toProblem(err);
      setProblem(p.status === 401 ? { ...p, title: "That API key was not accepted", detail: p.detail || "Check the key and try again." } : p);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form
        className="signin-card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h1>
          <span className="logo" aria-hidden="true">
            ▣
          </span>{" "}
          Warden console
        </h1>
        <p className="muted">Sign in with an organization API key. The key is exchanged for a session cookie and is not stored by this page.</p>
        {notice ? (
          <p className="notice" role="status" data-testid="sign-in-notice">
            {notice}
          </p>
        ) : null}
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api_key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="wdn_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
          autoFocus
        />
        <button id="sign-in" type="submit" className="btn btn-primary" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <ProblemView problem={problem} testId="sign-in-error" />
      </form>
    </main>
  );
}
