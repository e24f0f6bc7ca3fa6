// Small building blocks. Everything a tenant wrote (names, descriptions,
// schemas, results) is rendered as React text: never as HTML.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { toProblem } from "../api";
import type { Problem } from "../api";
import { reflow } from "../text";

export function ProblemView({ problem, testId = "problem" }: { problem: Problem | null; testId?: string }) {
  if (!problem) return null;
  return (
    <div className="problem" role="alert" data-testid={testId} data-kind={problem.kind}>
      <div className="problem-title">
        <strong>{problem.title || "Error"}</strong>
        {problem.status ? <span className="muted"> ({problem.status})</span> : null}
        {problem.kind ? <span className="badge badge-error">{problem.kind}</span> : null}
      </div>
      {problem.detail ? <pre className="problem-detail">{problem.detail}</pre> : null}
      {problem.invocation_id ? (
        <div className="muted">
          invocation <code data-testid={testId + "-invocation-id"}>{problem.invocation_id}</code>
        </div>
      ) : null}
      {problem.replay_of ? (
        <div className="muted">
          replay of <code>{problem.replay_of}</code>
        </div>
      ) : null}
    </div>
  );
}

/** JSON as text, in a scrollable block. */
export function JsonView({ value, testId }: { value: unknown; testId?: string }) {
  let text: string;
  try {
    text = value === undefined ? "undefined" : JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  return (
    <pre className="json" data-testid={testId}>
      {text}
    </pre>
  );
}

type Tone = "ok" | "error" | "warn" | "info" | "muted";

export function Badge({ tone, children, testId }: { tone: Tone; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

function pad(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

export function formatDuration(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return "—";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** A button that asks "sure?" in place (no window.confirm: scripts and
 * test drivers dismiss native dialogs). */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  testId,
  id,
  disabled,
}: {
  label: string;
  confirmLabel?: string;
  question: string;
  onConfirm: () => void | Promise<void>;
  testId?: string;
  id?: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="btn btn-danger" id={id} data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button
        type="button"
        className="btn btn-danger"
        data-testid="confirm-yes"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {confirmLabel ?? label}
      </button>
      <button type="button" className="btn" data-testid="confirm-no" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export interface Loaded<T> {
  data: T | null;
  problem: Problem | null;
  loading: boolean;
  reload: () => void;
  setData: (d: T) => void;
}

/** Loads once per `deps` change; `reload()` loads again. Stale answers are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    load().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setProblem(null);
        setLoading(false);
      },
      (err) => {
        if (mine !== seq.current) return;
        setProblem(toProblem(err));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, problem, loading, reload, setData };
}

/** Runs one action at a time and keeps its problem for display. */
export function useAction(): {
  busy: boolean;
  problem: Problem | null;
  run: <T>(f: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = useCallback(async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setProblem(null);
    try {
      return await f();
    } catch (err) {
      setProblem(toProblem(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setProblem(null), []);
  return { busy, problem, run, clear };
}

export function Loading() {
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}

/** A schema that rjsf can render as a form: an object schema, whatever came in. */
export function formSchema(s: unknown): Record<string, unknown> {
  if (typeof s === "object" && s !== null && !Array.isArray(s)) {
    const o = s as Record<string, unknown>;
    if (o.type === undefined && o.properties === undefined && o.$ref === undefined && o.allOf === undefined && o.anyOf === undefined && o.oneOf === undefined) {
      return { ...o, type: "object" };
    }
    return o;
  }
  return { type: "object" };
}

/** Whether a schema takes any input worth a form. */
export function hasFields(s: unknown): boolean {
  if (typeof s !== "object" || s === null) return false;
  const o = s as Record<string, unknown>;
  const props = o.properties;
  if (typeof props === "object" && props !== null && Object.keys(props).length > 0) return true;
  return o.$ref !== undefined || o.allOf !== undefined || o.anyOf !== undefined || o.oneOf !== undefined || o.additionalProperties !== undefined;
}

/** Text cut to a few lines (CSS line clamp) with a toggle to show it all,
 * offered only when something is actually cut off. */
export function ClampedText({ text, testId }: { text: string; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState(false);
  const [cut, setCut] = useState(false);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || open) return;
    const measure = () => setCut(el.scrollHeight > el.clientHeight + 1);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [text, open]);
  return (
    <div className="clamped" data-testid={testId} data-open={open ? "true" : "false"}>
      <div ref={ref} className={open ? "clamped-text open" : "clamped-text"}>
        {reflow(text)}
      </div>
      {cut || open ? (
        <button type="button" className="btn-more" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? "Show less" : "Show more"}
        </button>
      ) : null}
    </div>
  );
}
