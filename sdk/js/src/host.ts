/**
 * The host a tool's code talks to: the component's imports when it runs in
 * Warden, or `ToolRunner`'s native stand-in in a test. Nothing else in the
 * SDK touches WebAssembly.
 */

/** A log record's severity, as the contract's `log.level`. */
export type Level = "trace" | "debug" | "info" | "warn" | "error";

/** Why a secret could not be read (the contract's `secret-error`). */
export type SecretError = "not-declared" | "not-set" | "host-only";

export interface Host {
  /** The secret's value, or why there is none. */
  secret(name: string): string | { error: SecretError };
  log(level: Level, message: string): void;
}

let current: Host | undefined;

/** Installs `host` for the calls that follow; returns the previous one. */
export function install(host: Host | undefined): Host | undefined {
  const previous = current;
  current = host;
  return previous;
}

export function host(): Host {
  if (current === undefined) {
    throw new Error(
      "no Warden host: tool code runs inside a component built by `warden-tool build`, or under `ToolRunner` in tests",
    );
  }
  return current;
}
