// Hash routing: the server serves only index.html, app.js and app.css, so
// every page lives after the `#`: `#/agents`, `#/agents/{id}`, `#/tools`,
// `#/tools/{id}`, `#/invocations?agent_id=…&tool_id=…`.
import { useEffect, useState } from "react";

export type Route =
  | { page: "agents" }
  | { page: "agent"; id: string }
  | { page: "tools" }
  | { page: "tool"; id: string }
  | { page: "invocations"; agentId: string; toolId: string }
  | { page: "not-found"; path: string };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/agents";
  const [pathPart, queryPart = ""] = raw.split("?", 2) as [string, string?];
  const parts = pathPart.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const q = new URLSearchParams(queryPart);
  if (parts.length === 0) return { page: "agents" };
  if (parts[0] === "agents" && parts.length === 1) return { page: "agents" };
  if (parts[0] === "agents" && parts.length === 2) return { page: "agent", id: parts[1]! };
  if (parts[0] === "tools" && parts.length === 1) return { page: "tools" };
  if (parts[0] === "tools" && parts.length === 2) return { page: "tool", id: parts[1]! };
  if (parts[0] === "invocations" && parts.length === 1)
    return { page: "invocations", agentId: q.get("agent_id") ?? "", toolId: q.get("tool_id") ?? "" };
  return { page: "not-found", path: pathPart };
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "agents":
      return "#/agents";
    case "agent":
      return `#/agents/${e(route.id)}`;
    case "tools":
      return "#/tools";
    case "tool":
      return `#/tools/${e(route.id)}`;
    case "invocations": {
      const q = new URLSearchParams();
      if (route.agentId) q.set("agent_id", route.agentId);
      if (route.toolId) q.set("tool_id", route.toolId);
      const s = q.toString();
      return "#/invocations" + (s ? "?" + s : "");
    }
    case "not-found":
      return "#/agents";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const f = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  return route;
}
