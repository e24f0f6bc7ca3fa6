import { useCallback, useEffect, useState } from "react";
import { api, setUnauthorizedHandler, toProblem } from "./api";
import type { Problem, Session } from "./api";
import { Loading, ProblemView, formatTime } from "./components/common";
import { AgentDetailPage } from "./pages/AgentDetail";
import { AgentsPage } from "./pages/Agents";
import { InvocationsPage } from "./pages/Invocations";
import { SignIn } from "./pages/SignIn";
import { ToolPage, ToolsPage } from "./pages/Tools";
import { href, useRoute } from "./router";
import type { Route } from "./router";

type State = { phase: "restoring" } | { phase: "signed-out"; notice: string | null } | { phase: "signed-in"; session: Session };

export function App() {
  const [state, setState] = useState<State>({ phase: "restoring" });
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    setUnauthorizedHandler(() => setState({ phase: "signed-out", notice: "Your session has ended. Sign in again." }));
    api.restore().then(
      (s) => setState(s ? { phase: "signed-in", session: s } : { phase: "signed-out", notice: null }),
      (err) => {
        setProblem(toProblem(err));
        setState({ phase: "signed-out", notice: null });
      },
    );
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } catch {
      // Signed out here either way; the cookie expires on its own.
    }
    setState({ phase: "signed-out", notice: "Signed out." });
  }, []);

  if (state.phase === "restoring") {
    return (
      <main className="signin">
        <Loading />
      </main>
    );
  }
  if (state.phase === "signed-out") {
    return (
      <>
        <SignIn
          notice={state.notice}
          onSignedIn={(s) => {
            setProblem(null);
            setState({ phase: "signed-in", session: s });
          }}
        />
        {problem ? (
          <div className="signin-problem">
            <ProblemView problem={problem} />
          </div>
        ) : null}
      </>
    );
  }
  return <Shell session={state.session} onSignOut={signOut} />;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useRoute();
  const section = route.page === "agent" ? "agents" : route.page === "tool" ? "tools" : route.page;
  useEffect(() => {
    document.title = `${title(route)} · Warden console`;
  }, [route]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ▣
          </span>{" "}
          Warden
        </div>
        <div className="org" data-testid="org-name" title={session.organization_id}>
          {session.organization_name}
        </div>
        <nav aria-label="Main">
          <ul>
            <NavItem to={{ page: "agents" }} current={section === "agents"} testId="nav-agents" label="Agents" />
            <NavItem to={{ page: "tools" }} current={section === "tools"} testId="nav-tools" label="Tools" />
            <NavItem
              to={{ page: "invocations", agentId: "", toolId: "" }}
              current={section === "invocations"}
              testId="nav-invocations"
              label="Invocations"
            />
          </ul>
        </nav>
        <div className="sidebar-foot">
          <div className="muted small">Session until {formatTime(session.expires_at)}</div>
          <button id="sign-out" type="button" className="btn btn-link" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </aside>
      <main id="main" className="content" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  );
}

function NavItem({ to, current, testId, label }: { to: Route; current: boolean; testId: string; label: string }) {
  return (
    <li>
      <a href={href(to)} data-testid={testId} aria-current={current ? "page" : undefined} className={current ? "active" : undefined}>
        {label}
      </a>
    </li>
  );
}

function title(route: Route): string {
  switch (route.page) {
    case "agents":
    case "agent":
      return "Agents";
    case "tools":
    case "tool":
      return "Tools";
    case "invocations":
      return "Invocations";
    case "not-found":
      return "Not found";
  }
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "agents":
      return <AgentsPage />;
    case "agent":
      return <AgentDetailPage key={route.id} id={route.id} />;
    case "tools":
      return <ToolsPage />;
    case "tool":
      return <ToolPage key={route.id} id={route.id} />;
    case "invocations":
      return <InvocationsPage key={`${route.agentId}|${route.toolId}`} agentId={route.agentId} toolId={route.toolId} />;
    case "not-found":
      return (
        <div className="page">
          <h2>Not found</h2>
          <p>
            There is no page at <code>{route.path}</code>. <a href={href({ page: "agents" })}>Go to agents</a>.
          </p>
        </div>
      );
  }
}
