import { useMemo, useState } from "react";
import { api } from "../api";
import type { InvocationRecord, Tool } from "../api";
import { Badge, Loading, ProblemView, Time, formatDuration, useLoad } from "../components/common";
import { href, navigate } from "../router";

const PAGE = 50;

const WINDOWS: [number, string][] = [
  [60, "last hour"],
  [1440, "last 24 hours"],
  [10080, "last 7 days"],
  [43200, "last 30 days"],
];

export function InvocationsPage({ agentId, toolId }: { agentId: string; toolId: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [windowMinutes, setWindowMinutes] = useState(1440);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useLoad(
    () => api.listInvocations({ agent_id: agentId || undefined, tool_id: toolId || undefined, limit: PAGE, cursor }),
    [agentId, toolId, cursor],
  );
  const tools = useLoad(() => api.listTools(), []);
  const agents = useLoad(() => api.allAgents(), []);
  const toolNames = useMemo(() => new Map((tools.data ?? []).map((t) => [t.id, t.name])), [tools.data]);
  const agentNames = useMemo(() => new Map((agents.data ?? []).map((a) => [a.id, a.name])), [agents.data]);

  const setFilter = (a: string, t: string) => {
    setCursors([null]);
    navigate({ page: "invocations", agentId: a, toolId: t });
  };
  const items = page.data?.items ?? [];
  const shownTools = (tools.data ?? []).filter((t) => (toolId ? t.id === toolId : items.some((i) => i.tool_id === t.id)));

  return (
    <div className="page">
      <header className="page-header">
        <h2>Invocations</h2>
      </header>
      <section className="card">
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
          <div className="form-group">
            <label className="control-label" htmlFor="filter-agent">
              Agent
            </label>
            <select id="filter-agent" className="form-control" value={agentId} onChange={(e) => setFilter(e.target.value, toolId)}>
              <option value="">All agents</option>
              {agentId && !agentNames.has(agentId) ? <option value={agentId}>{agentId}</option> : null}
              {(agents.data ?? []).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </div>
          <div className="form-group">
            <label className="control-label" htmlFor="filter-tool">
              Tool
            </label>
            <select id="filter-tool" className="form-control" value={toolId} onChange={(e) => setFilter(agentId, e.target.value)}>
              <option value="">All tools</option>
              {toolId && !toolNames.has(toolId) ? <option value={toolId}>{toolId}</option> : null}
              {(tools.data ?? []).map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <div className="form-group">
            <label className="control-label" htmlFor="health-window">
              Health window
            </label>
            <select id="health-window" className="form-control" value={windowMinutes} onChange={(e) => setWindowMinutes(Number(e.target.value))}>
              {WINDOWS.map(([m, label]) => (
                <option key={m} value={m}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <div className="form-group">
            <span className="control-label">&nbsp;</span>
            <button type="button" id="invocations-refresh" className="btn" onClick={page.reload}>
              Refresh
            </button>
          </div>
        </form>
      </section>

      {shownTools.length > 0 ? (
        <section className="health-grid" aria-label="Tool health">
          {shownTools.map((t) => (
            <HealthCard
              key={t.id}
              tool={t}
              windowMinutes={windowMinutes}
              durations={items.filter((i) => i.tool_id === t.id)}
            />
          ))}
        </section>
      ) : null}

      <section className="card">
        <ProblemView problem={page.problem} />
        {page.loading && !page.data ? <Loading /> : null}
        {page.data && items.length === 0 ? (
          <p className="muted" data-testid="invocations-empty">
            No invocations match.
          </p>
        ) : null}
        {items.length > 0 ? (
          <div className="table-scroll">
            <table className="table" data-testid="invocations-table">
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Tool</th>
                  <th scope="col">Function</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Error kind</th>
                  <th scope="col" className="num">
                    Duration
                  </th>
                  <th scope="col" className="num">
                    Fuel
                  </th>
                  <th scope="col" className="num">
                    Memory
                  </th>
                  <th scope="col">Call id</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id} data-testid="invocation-row" data-invocation-id={r.id} data-outcome={r.outcome} data-function={r.function}>
                    <td>
                      <Time iso={r.started_at} />
                    </td>
                    <td>
                      <a href={href({ page: "tool", id: r.tool_id })}>{toolNames.get(r.tool_id) ?? r.tool_id}</a>
                    </td>
                    <td>
                      <code>{r.function}</code>
                    </td>
                    <td>
                      {r.agent_id ? (
                        <a href={href({ page: "agent", id: r.agent_id })}>{agentNames.get(r.agent_id) ?? r.agent_id}</a>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td>
                      {r.outcome === "ok" ? <Badge tone="ok">ok</Badge> : <Badge tone="error">{r.outcome}</Badge>}
                      {r.replay_of ? <Badge tone="muted">replay</Badge> : null}
                    </td>
                    <td>{r.error_kind ? <code>{r.error_kind}</code> : <span className="muted">—</span>}</td>
                    <td className="num">{formatDuration(r.duration_us)}</td>
                    <td className="num">{r.fuel_consumed.toLocaleString()}</td>
                    <td className="num">{formatBytes(r.peak_memory_bytes)}</td>
                    <td className="clip">{r.call_id ? <code title={r.id}>{r.call_id}</code> : <span className="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <div className="pager">
          <button type="button" id="invocations-first" className="btn" disabled={cursors.length <= 1} onClick={() => setCursors([null])}>
            Newest
          </button>
          <button type="button" id="invocations-prev" className="btn" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous
          </button>
          <button
            type="button"
            id="invocations-next"
            className="btn"
            disabled={!page.data?.next_cursor}
            onClick={() => {
              const n = page.data?.next_cursor;
              if (n) setCursors((c) => [...c, n]);
            }}
          >
            Older
          </button>
        </div>
      </section>
    </div>
  );
}

function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A tool's health over a window, with the durations of the invocations
 * on the page drawn as a small chart. */
export function HealthCard({
  tool,
  windowMinutes,
  durations,
}: {
  tool: Tool;
  windowMinutes: number;
  durations: InvocationRecord[] | null;
}) {
  const health = useLoad(() => api.toolHealth(tool.id, windowMinutes), [tool.id, windowMinutes]);
  const recent = useLoad(
    () => (durations ? Promise.resolve({ items: durations }) : api.listInvocations({ tool_id: tool.id, limit: 50 })),
    [tool.id, durations ? durations.map((d) => d.id).join(",") : ""],
  );
  const h = health.data;
  return (
    <article className="health-card" data-testid={`health-${tool.name}`} data-tool-id={tool.id}>
      <h4>{tool.name}</h4>
      <ProblemView problem={health.problem} />
      {h ? (
        <div className="stats-row">
          <dl className="stats">
            <div>
              <dt>Calls</dt>
              <dd data-testid="health-calls">{h.calls.toLocaleString()}</dd>
            </div>
            <div>
              <dt>Error rate</dt>
              <dd data-testid="health-error-rate" className={h.error_rate > 0.05 ? "bad" : undefined}>
                {(h.error_rate * 100).toFixed(1)}%
              </dd>
            </div>
          </dl>
          <dl className="stats" aria-label="Durations">
            <div>
              <dt>p50</dt>
              <dd data-testid="health-p50">{formatDuration(h.p50_duration_us)}</dd>
            </div>
            <div>
              <dt>p95</dt>
              <dd data-testid="health-p95">{formatDuration(h.p95_duration_us)}</dd>
            </div>
            <div>
              <dt>p99</dt>
              <dd data-testid="health-p99">{formatDuration(h.p99_duration_us)}</dd>
            </div>
          </dl>
        </div>
      ) : health.loading ? (
        <Loading />
      ) : null}
      {h && h.errors_by_kind.length > 0 ? (
        <p className="small">
          {h.errors_by_kind.map((e, i) => (
            <span key={i} className="badge badge-error">
              {e.kind ?? "unknown"} × {e.count}
            </span>
          ))}
        </p>
      ) : null}
      <Sparkline records={recent.data?.items ?? []} />
    </article>
  );
}

/** Recent durations, oldest on the left; errors as red dots. Plain SVG. */
export function Sparkline({ records }: { records: InvocationRecord[] }) {
  const W = 360;
  const H = 56;
  const P = 4;
  const pts = [...records]
    .filter((r) => Number.isFinite(r.duration_us))
    .sort((a, b) => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : 0));
  if (pts.length === 0) {
    return <p className="muted small">No recent calls to chart.</p>;
  }
  const max = Math.max(...pts.map((p) => p.duration_us), 1);
  const x = (i: number) => (pts.length === 1 ? W / 2 : P + (i * (W - 2 * P)) / (pts.length - 1));
  const y = (d: number) => H - P - (d / max) * (H - 2 * P);
  const line = pts.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(p.duration_us).toFixed(1)}`).join(" ");
  const label = `Durations of the last ${pts.length} calls; longest ${formatDuration(max)}`;
  return (
    <figure className="sparkline">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label} data-testid="sparkline">
        <title>{label}</title>
        <line className="spark-axis" x1={P} y1={H - P} x2={W - P} y2={H - P} />
        <path className="spark-line" d={line} />
        {pts.map((p, i) => (
          <circle key={p.id} className={p.outcome === "ok" ? "spark-dot" : "spark-dot spark-error"} cx={x(i)} cy={y(p.duration_us)} r={p.outcome === "ok" ? 2 : 3}>
            <title>{`${p.function}: ${formatDuration(p.duration_us)} (${p.outcome}${p.error_kind ? ", " + p.error_kind : ""})`}</title>
          </circle>
        ))}
      </svg>
      <figcaption className="muted small">
        last {pts.length} calls · max {formatDuration(max)}
      </figcaption>
    </figure>
  );
}
